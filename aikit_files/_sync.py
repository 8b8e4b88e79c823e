"""The sync wrapper: ``Client`` and ``FilesAPI`` over one long-lived anyio blocking portal.

One event loop runs in a background thread for the client's whole life; the aiohttp session and
the ``AsyncClient`` are created inside it. Each method is a thin bridge to its async twin: without
callbacks it blocks and returns the value (or raises); with any callback it returns a
``concurrent.futures.Future`` at once, and the callbacks run later on a worker thread, never on
the event loop's thread.
"""

# NOTE: the methods decorated with @bridge are signatures without a body (the bridge runs the
# async twin), hence no return statement.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import importlib
import inspect
import os
import pathlib
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, Self, TypeVar, Unpack, overload

import aiohttp
import anyio
import anyio.from_thread

from ._client import AsyncClient
from ._config import ClientOptions
from ._exceptions import AIKitError, ClientClosedError, InvalidArgumentError, SyncInEventLoopError
from ._files import AsyncFilesAPI
from ._models import FileDeleted, FileList, OpenAIFile, Result
from ._params import (
    Callback,
    DownloadOptions,
    FileListOptions,
    FileListParameters,
    FileOptions,
    Options,
    Parameters,
    WaitOptions,
)
from ._protocol.sources import UploadFile

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
P = ParamSpec("P")

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


_callback_thread = threading.local()


def _run_on_this_thread(callback: Callback, result: Result) -> None:
    """Runs a user's callback on a worker thread; a coroutine function's coroutine runs to its
    end on an event loop of its own. A plain callback may call the sync client again."""
    _callback_thread.active = True
    try:
        outcome = callback(result)
        if inspect.isawaitable(outcome):
            asyncio.run(_await(outcome))
    finally:
        _callback_thread.active = False


async def _await(awaitable: Awaitable[object]) -> None:
    await awaitable


def _off_the_loop(callback: Callback) -> Callback:
    """The callback the async layer runs: it hands ``callback`` to a worker thread and waits
    for it, so callbacks run in order, never on the loop's thread, and ``close()`` waits for
    them."""

    async def hop(result: Result) -> None:
        await anyio.to_thread.run_sync(_run_on_this_thread, callback, result)

    return hop


async def _await_call(start: Callable[[], asyncio.Task[T]]) -> T:
    return await start()


class _SyncCall(Protocol[P, T_co]):
    """A sync method as type checkers see it: blocking, it returns the value; given a callback
    (or a parameters object, which may hold one), it returns the value or a Future."""

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T_co: ...

    @overload
    def __call__(self, *args: Any, **kwargs: Any) -> T_co | concurrent.futures.Future[T_co]: ...


class _Bridge(Generic[P, T]):
    """A method of a sync API that runs its async twin (the method of the same name).

    It decorates the blocking signature of the method, with no body: the bridge takes the
    async twin's arguments, checks them there, and blocks for the value, or, when a callback is
    given, returns a ``concurrent.futures.Future`` at once.
    """

    def __init__(self, blocking: Callable[Concatenate[Any, P], T]) -> None:
        functools.update_wrapper(self, blocking)
        self.__name__ = blocking.__name__

    def __call__(self, api: _SyncAPI, *args: Any, **kwargs: Any) -> Any:
        """The method called on the class, with the API as its first argument."""
        return api._call(self.__name__, *args, **kwargs)

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, instance: _SyncAPI, owner: type[Any]) -> _SyncCall[P, T]: ...

    def __get__(self, instance: _SyncAPI | None, owner: type[Any]) -> Any:
        if instance is None:
            return self
        return functools.partial(instance._call, self.__name__)


bridge = _Bridge


class _SyncAPI:
    """What the sync APIs share: running their async twin's methods through the portal."""

    def __init__(self, api: Any, portal: anyio.from_thread.BlockingPortal):
        self._api = api
        self._portal = portal
        self._closed = False
        # Where ``parameters`` stands among the positional arguments of each method.
        self._parameters_at: dict[str, int] = {}

    def _run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Runs ``func`` on the loop's thread (awaiting it if it is async) and returns its value."""
        _refuse_running_loop(f"a {type(self).__name__} call")
        if self._closed:
            raise ClientClosedError("the client is closed; no new call can start")
        return self._portal.call(func, *args)

    def _parameters_index(self, name: str, method: Callable[..., Any]) -> int:
        index = self._parameters_at.get(name)
        if index is None:
            index = list(inspect.signature(method).parameters).index("parameters")
            self._parameters_at[name] = index
        return index

    def _call(self, name: str, *args: Any, **options: Any) -> Any:
        method: Callable[..., asyncio.Task[Any]] = getattr(self._api, name)
        index = self._parameters_index(name, method)
        parameters = options.get("parameters", args[index] if len(args) > index else None)
        callbacks = _user_callbacks(parameters, options)
        if callbacks is None:
            return self._run(_await_call, functools.partial(method, *args, **options))
        for callback_name in _CALLBACK_NAMES:
            callback = getattr(callbacks, callback_name)
            options[callback_name] = None if callback is None else _off_the_loop(callback)
        start = functools.partial(method, *args, **options)
        return self._run(_future_of, start)


class FilesAPI(_SyncAPI):
    """The Files API for scripts: the methods of ``AsyncFilesAPI``, blocking or with a Future.

    Without callbacks a call blocks and returns the value (or raises); with any callback it
    returns a ``concurrent.futures.Future`` at once, and the callbacks run later on a worker
    thread, never on the event loop's thread.
    """

    _api: AsyncFilesAPI

    @bridge
    def create(
        self,
        file: UploadFile,
        purpose: str,
        parameters: None = None,
        **options: Unpack[FileOptions],
    ) -> OpenAIFile:
        """Uploads a file; see ``AsyncFilesAPI.create``."""

    @bridge
    def retrieve(
        self, file_id: str, parameters: None = None, **options: Unpack[Options]
    ) -> OpenAIFile:
        """Returns a file's metadata; see ``AsyncFilesAPI.retrieve``."""

    @bridge
    def list(self, parameters: None = None, **options: Unpack[FileListOptions]) -> FileList:
        """Returns one page of files; see ``AsyncFilesAPI.list``."""

    @bridge
    def delete(
        self, file_id: str, parameters: None = None, **options: Unpack[Options]
    ) -> FileDeleted:
        """Deletes a file; see ``AsyncFilesAPI.delete``."""

    @bridge
    def content(self, file_id: str, parameters: None = None, **options: Unpack[Options]) -> bytes:
        """Returns a file's content; see ``AsyncFilesAPI.content``."""

    @bridge
    def download(
        self,
        file_id: str,
        destination: str | os.PathLike[str],
        parameters: None = None,
        **options: Unpack[DownloadOptions],
    ) -> pathlib.Path:
        """Streams a file's content to ``destination``; see ``AsyncFilesAPI.download``."""

    @bridge
    def wait_for_processing(
        self, file_id: str, parameters: None = None, **options: Unpack[WaitOptions]
    ) -> OpenAIFile:
        """Polls a file until it is processed; see ``AsyncFilesAPI.wait_for_processing``."""

    def iterate(
        self,
        parameters: FileListParameters | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Iterator[OpenAIFile]:
        """Returns an iterator over every file, fetching pages as it goes; takes no callbacks."""
        pages = self._run(functools.partial(self._api.iterate, parameters, **options))
        return _iterate(self._portal, pages)


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
        session: aiohttp.ClientSession | None = None,
        **options: Unpack[ClientOptions],
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
        make = functools.partial(AsyncClient, api_key, **options)
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
