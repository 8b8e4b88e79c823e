"""The sync wrapper: ``Client`` and ``FilesAPI`` over one long-lived anyio blocking portal.

One event loop runs in a background thread for the client's whole life; the aiohttp session and
the ``AsyncClient`` are created inside it. Each method is a thin bridge to its async twin: without
callbacks it blocks and returns the value (or raises); with any callback it returns a
``concurrent.futures.Future`` at once, and the callbacks run later on a worker thread, never on
the event loop's thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import importlib
import os
import pathlib
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, TypeVar, Unpack, overload

import aiohttp
import anyio
import anyio.from_thread

from ._calls import deliver_blocking
from ._client import AsyncClient
from ._config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Timeout
from ._exceptions import AIKitError, ClientClosedError, InvalidArgumentError, SyncInEventLoopError
from ._files import AsyncFilesAPI, ParametersArg
from ._models import FileDeleted, FileList, OpenAIFile, Result
from ._params import (
    DownloadOptions,
    DownloadParameters,
    FileListOptions,
    FileListParameters,
    FileOptions,
    Options,
    Parameters,
)
from ._protocol.sources import UploadFile

T = TypeVar("T")

_CALLBACK_NAMES = ("on_terminate", "on_response", "on_error")


def _refuse_running_loop(what: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise SyncInEventLoopError(
        f"{what} blocks, and this thread runs an event loop: it would stall it. "
        "Use aikit_files.AsyncClient (await its calls) inside async code."
    )


def _user_callbacks(parameters: object, options: Mapping[str, Any]) -> Parameters | None:
    """The callbacks a call was given (options override ``parameters``), or None if none."""
    found: dict[str, Any] = {}
    for name in _CALLBACK_NAMES:
        if isinstance(parameters, Parameters):
            found[name] = getattr(parameters, name)
        elif isinstance(parameters, Mapping):
            found[name] = parameters.get(name)
        if name in options:
            found[name] = options[name]
    callbacks = Parameters(**{k: v for k, v in found.items() if v is not None})
    callbacks.validate()
    return callbacks if callbacks.has_callbacks else None


async def _await_call(start: Callable[[], asyncio.Task[T]]) -> T:
    return await start()


class FilesAPI:
    """The Files API for scripts: the methods of ``AsyncFilesAPI``, blocking or with a Future.

    Each method is typed twice: with no ``parameters`` object and no callback it blocks and
    returns the value; otherwise it returns the value, or a Future when a callback is given.
    """

    def __init__(self, files: AsyncFilesAPI, portal: anyio.from_thread.BlockingPortal):
        self._files = files
        self._portal = portal
        self._closed = False

    def _run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Runs ``func`` on the loop's thread (awaiting it if it is async) and returns its value."""
        _refuse_running_loop("a FilesAPI call")
        if self._closed:
            raise ClientClosedError("the client is closed; no new call can start")
        return self._portal.call(func, *args)

    def _call(
        self,
        method: Callable[..., asyncio.Task[T]],
        *args: Any,
        parameters: Any,
        options: dict[str, Any],
    ) -> T | concurrent.futures.Future[T]:
        callbacks = _user_callbacks(parameters, options)
        if callbacks is None:
            start = functools.partial(method, *args, parameters, **options)
            value: T = self._run(_await_call, start)
            return value

        async def relay(result: Result) -> None:
            # NOTE: the async layer awaits this, so close() still waits for the user's callbacks,
            # which run in order on a worker thread, never on the event loop's thread.
            await anyio.to_thread.run_sync(_deliver_on_thread, callbacks, result)

        options = {**options, "on_response": None, "on_error": None, "on_terminate": relay}
        start = functools.partial(method, *args, parameters, **options)
        future: concurrent.futures.Future[T] = self._run(_future_of, start)
        return future

    @overload
    def create(
        self,
        file: UploadFile,
        purpose: str,
        parameters: None = None,
        **options: Unpack[FileOptions],
    ) -> OpenAIFile: ...

    @overload
    def create(
        self,
        file: UploadFile,
        purpose: str,
        parameters: ParametersArg = None,
        **options: Any,
    ) -> OpenAIFile | concurrent.futures.Future[OpenAIFile]: ...

    def create(
        self,
        file: UploadFile,
        purpose: str,
        parameters: ParametersArg = None,
        **options: Any,
    ) -> OpenAIFile | concurrent.futures.Future[OpenAIFile]:
        """Uploads a file; see ``AsyncFilesAPI.create``."""
        return self._call(self._files.create, file, purpose, parameters=parameters, options=options)

    @overload
    def retrieve(
        self,
        file_id: str,
        parameters: None = None,
        **options: Unpack[Options],
    ) -> OpenAIFile: ...

    @overload
    def retrieve(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        **options: Any,
    ) -> OpenAIFile | concurrent.futures.Future[OpenAIFile]: ...

    def retrieve(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        **options: Any,
    ) -> OpenAIFile | concurrent.futures.Future[OpenAIFile]:
        """Returns a file's metadata; see ``AsyncFilesAPI.retrieve``."""
        return self._call(self._files.retrieve, file_id, parameters=parameters, options=options)

    @overload
    def list(
        self,
        parameters: None = None,
        **options: Unpack[FileListOptions],
    ) -> FileList: ...

    @overload
    def list(
        self,
        parameters: FileListParameters | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> FileList | concurrent.futures.Future[FileList]: ...

    def list(
        self,
        parameters: FileListParameters | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> FileList | concurrent.futures.Future[FileList]:
        """Returns one page of files; see ``AsyncFilesAPI.list``."""
        return self._call(self._files.list, parameters=parameters, options=options)

    def iterate(
        self,
        parameters: FileListParameters | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Iterator[OpenAIFile]:
        """Returns an iterator over every file, fetching pages as it goes; takes no callbacks."""
        pages = self._run(functools.partial(self._files.iterate, parameters, **options))
        return _iterate(self._portal, pages)

    @overload
    def delete(
        self,
        file_id: str,
        parameters: None = None,
        **options: Unpack[Options],
    ) -> FileDeleted: ...

    @overload
    def delete(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        **options: Any,
    ) -> FileDeleted | concurrent.futures.Future[FileDeleted]: ...

    def delete(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        **options: Any,
    ) -> FileDeleted | concurrent.futures.Future[FileDeleted]:
        """Deletes a file; see ``AsyncFilesAPI.delete``."""
        return self._call(self._files.delete, file_id, parameters=parameters, options=options)

    @overload
    def content(
        self,
        file_id: str,
        parameters: None = None,
        **options: Unpack[Options],
    ) -> bytes: ...

    @overload
    def content(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        **options: Any,
    ) -> bytes | concurrent.futures.Future[bytes]: ...

    def content(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        **options: Any,
    ) -> bytes | concurrent.futures.Future[bytes]:
        """Returns a file's content; see ``AsyncFilesAPI.content``."""
        return self._call(self._files.content, file_id, parameters=parameters, options=options)

    @overload
    def download(
        self,
        file_id: str,
        destination: str | os.PathLike[str],
        parameters: None = None,
        **options: Unpack[DownloadOptions],
    ) -> pathlib.Path: ...

    @overload
    def download(
        self,
        file_id: str,
        destination: str | os.PathLike[str],
        parameters: DownloadParameters | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> pathlib.Path | concurrent.futures.Future[pathlib.Path]: ...

    def download(
        self,
        file_id: str,
        destination: str | os.PathLike[str],
        parameters: DownloadParameters | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> pathlib.Path | concurrent.futures.Future[pathlib.Path]:
        """Streams a file's content to ``destination``; see ``AsyncFilesAPI.download``."""
        return self._call(
            self._files.download, file_id, destination, parameters=parameters, options=options
        )

    @overload
    def wait_for_processing(
        self,
        file_id: str,
        parameters: None = None,
        *,
        poll_interval: float = ...,
        max_wait: float = ...,
        **options: Unpack[Options],
    ) -> OpenAIFile: ...

    @overload
    def wait_for_processing(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        *,
        poll_interval: float = ...,
        max_wait: float = ...,
        **options: Any,
    ) -> OpenAIFile | concurrent.futures.Future[OpenAIFile]: ...

    def wait_for_processing(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        *,
        poll_interval: float = 1.0,
        max_wait: float = 1800.0,
        **options: Any,
    ) -> OpenAIFile | concurrent.futures.Future[OpenAIFile]:
        """Polls a file until it is processed; see ``AsyncFilesAPI.wait_for_processing``."""
        return self._call(
            functools.partial(
                self._files.wait_for_processing, poll_interval=poll_interval, max_wait=max_wait
            ),
            file_id,
            parameters=parameters,
            options=options,
        )


_callback_thread = threading.local()


def _deliver_on_thread(callbacks: Parameters, result: Result) -> None:
    _callback_thread.active = True
    try:
        deliver_blocking(callbacks, result)
    finally:
        _callback_thread.active = False


def _future_of(start: Callable[[], asyncio.Task[T]]) -> concurrent.futures.Future[T]:
    """Starts a call on the loop's thread and mirrors its task into a thread-safe Future."""
    task = start()
    loop = asyncio.get_running_loop()
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def copy(done: asyncio.Task[T]) -> None:
        if future.cancelled():
            return
        if done.cancelled():
            future.cancel()
        elif (exc := done.exception()) is not None:
            future.set_exception(exc)
        else:
            future.set_result(done.result())

    def cancel_task(done: concurrent.futures.Future[T]) -> None:
        if done.cancelled():
            loop.call_soon_threadsafe(task.cancel)

    task.add_done_callback(copy)
    future.add_done_callback(cancel_task)
    return future


def _iterate(portal: anyio.from_thread.BlockingPortal, pages: AsyncIterator[T]) -> Iterator[T]:
    try:
        while True:
            try:
                yield portal.call(pages.__anext__)
            except StopAsyncIteration:
                return
    finally:
        aclose = getattr(pages, "aclose", None)
        if aclose is not None:
            portal.call(aclose)


class Client:
    """The sync client: ``AsyncClient``'s arguments, for scripts; ``client.files`` is a FilesAPI.

    Use it as a context manager or call ``close()``; a client still open when the interpreter
    exits is closed then, so calls in flight and their callbacks still finish.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        provider: str = "openai",
        api_version: str | None = None,
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        session: aiohttp.ClientSession | None = None,
    ):
        _refuse_running_loop("Client()")
        if session is not None:
            raise InvalidArgumentError(
                "the sync Client runs its own event loop and creates its session there; "
                "to borrow a session, use AsyncClient(session=...)"
            )
        self._closed = False
        self._lock = threading.Lock()
        self._portal_cm: AbstractContextManager[anyio.from_thread.BlockingPortal] = (
            anyio.from_thread.start_blocking_portal(name="aikit-files")
        )
        self._portal = self._portal_cm.__enter__()
        make = functools.partial(
            AsyncClient,
            api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            provider=provider,
            api_version=api_version,
            timeout=timeout,
            max_retries=max_retries,
        )
        try:
            # NOTE: built on the loop's thread, so the session belongs to the portal's loop.
            self._client: AsyncClient = self._portal.call(make)
        except BaseException:
            self._portal_cm.__exit__(None, None, None)
            raise
        self.files = FilesAPI(self._client.files, self._portal)
        _close_at_exit(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<aikit_files.Client {state} {self._client!r}>"

    def close(self, *, cancel: bool = False) -> None:
        """Waits for the calls in flight and their callbacks, then releases everything.

        Args:
            cancel: cancel the calls in flight instead; their ``on_terminate`` still fires.
        """
        if getattr(_callback_thread, "active", False):
            raise AIKitError(
                "close() was called from a callback; it would wait for that callback to return"
            )
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.files._closed = True
        try:
            self._portal.call(functools.partial(self._client.aclose, cancel=cancel))
        finally:
            self._portal_cm.__exit__(None, None, None)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _close_at_exit(client: Client) -> None:
    # NOTE: the portal's loop runs in a non-daemon worker thread that the interpreter joins at
    # exit, before atexit handlers run; a client left open would hang the exit. Hooks registered
    # with threading's own exit list run first (concurrent.futures uses the same list), so an
    # open client is closed there, after its calls and callbacks finish.
    # The event loop's default executor lives in concurrent.futures.thread, which registers its
    # own hook (stopping every executor) when first imported: import it now, so that ours is
    # registered after it and runs before it.
    importlib.import_module("concurrent.futures.thread")
    ref = weakref.ref(client)

    def close() -> None:
        alive = ref()
        if alive is not None:
            alive.close()

    register: Callable[[Callable[[], None]], None] = getattr(threading, "_register_atexit")  # noqa: B009
    register(close)
