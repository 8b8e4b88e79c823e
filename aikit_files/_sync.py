"""The sync wrapper: ``Client`` and ``FilesAPI``, bridges to the async API on a loop thread.

One event loop runs in a background thread for the client's whole life (``LoopThread``); the
aiohttp session and the ``AsyncClient`` are created inside it. Each method is a thin bridge to
its async twin: without callbacks it blocks and returns the value (or raises); with any callback
it returns a ``concurrent.futures.Future`` at once, and the callbacks (and ``on_progress``) run
later on a worker thread, never on the event loop's thread; the Future completes once the call
ended and its callbacks ran.

A client the program drops, or forgets to close, still finishes what it started: a call in
flight keeps its client alive until its callbacks ran; an idle client that is garbage-collected
stops its loop; at interpreter exit every client still open is closed, after its calls.
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
import logging
import os
import pathlib
import sys
import threading
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, Self, TypeVar, Unpack, overload

import aiohttp

from ._client import AsyncClient
from ._config import ClientOptions
from ._exceptions import AIKitError, ClientClosedError, InvalidArgumentError
from ._files import AsyncFilesAPI
from ._loop_thread import LoopThread
from ._models import FileDeleted, FileList, OpenAIFile, Result, Upload, UploadPart
from ._params import (
    Callback,
    CompleteOptions,
    DownloadOptions,
    FileListOptions,
    FileListParameters,
    FileOptions,
    Options,
    Parameters,
    ProgressCallback,
    UploadCreateOptions,
    WaitOptions,
)
from ._protocol.sources import UploadFile
from ._uploads import AsyncUploadsAPI

logger = logging.getLogger("aikit_files")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
P = ParamSpec("P")

_CALLBACK_NAMES = ("on_response", "on_error", "on_terminate")

_warned_about_running_loop = False


def _warn_if_in_a_running_loop() -> None:
    """Warns once that a blocking call stalls the event loop of the thread it is made from.

    A Jupyter kernel runs an event loop in the cell's thread, yet a cell is where a blocking
    call belongs (as with openai-python's sync client): no warning there.
    """
    global _warned_about_running_loop
    if _warned_about_running_loop or asyncio._get_running_loop() is None:
        return
    if _in_a_jupyter_kernel():
        return
    _warned_about_running_loop = True
    warnings.warn(
        "aikit_files.Client blocks, and this thread runs an event loop, which waits meanwhile; "
        "in async code, use aikit_files.AsyncClient and await its calls",
        RuntimeWarning,
        stacklevel=4,
    )


def _in_a_jupyter_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel (IPython's shell there has a kernel)."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return getattr(shell, "kernel", None) is not None


def _option(parameters: object, options: Mapping[str, Any], name: str) -> Any:
    """The value of option ``name``: a keyword overrides ``parameters`` (object or mapping)."""
    if name in options:
        return options[name]
    if isinstance(parameters, Mapping):
        return parameters.get(name)
    return getattr(parameters, name, None)


_callback_thread = threading.local()


def _run_on_this_thread(callback: Callable[..., object], *args: Any) -> None:
    """Runs a user's callback on the callback thread; a coroutine function's coroutine runs to
    its end on an event loop of its own. A plain callback may call the sync client again."""
    _callback_thread.active = True
    try:
        outcome = callback(*args)
        if inspect.isawaitable(outcome):
            asyncio.run(_await(outcome))
    finally:
        _callback_thread.active = False


async def _await(awaitable: Awaitable[object]) -> None:
    await awaitable


def _report_progress(on_progress: ProgressCallback, done: int, total: int | None) -> None:
    try:
        _run_on_this_thread(on_progress, done, total)
    except Exception:
        logger.exception("on_progress %r raised; the transfer goes on", on_progress)


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
    """What the sync APIs share: running their async twin's methods on the client's loop."""

    def __init__(self, client: Client, api: Any) -> None:
        # NOTE: a strong reference: ``af.Client(...).files.list()`` keeps its client alive.
        self._client = client
        self._api = api
        # Where ``parameters`` stands among the positional arguments of each method.
        self._parameters_at: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<aikit_files.{type(self).__name__} of {self._client!r}>"

    def _run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Runs ``func`` on the loop's thread (awaiting it if it is async) and returns its value."""
        return self._client._run(func, *args)

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
        on_progress = _option(parameters, options, "on_progress")
        if on_progress is not None and callable(on_progress):
            options["on_progress"] = self._client._off_the_loop_progress(on_progress)
        callbacks = {name: _option(parameters, options, name) for name in _CALLBACK_NAMES}
        if not any(callbacks.values()):
            # NOTE: the loop thread awaits the task the method returns (``LoopThread.call``).
            return self._run(functools.partial(method, *args, **options))
        Parameters(**callbacks).validate()
        return self._client._start_with_callbacks(method, args, options, callbacks)

    def _pages(self, pages: AsyncIterator[T]) -> Iterator[T]:
        """The items of an async iterator on the loop, one by one, as a plain iterator."""
        try:
            while True:
                try:
                    yield self._run(pages.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(pages, "aclose", None)
            if aclose is not None and not self._client._closed:
                self._run(aclose)


class FilesAPI(_SyncAPI):
    """The Files API for scripts: the methods of ``AsyncFilesAPI``, blocking or with a Future.

    Without callbacks a call blocks and returns the value (or raises); with any callback it
    returns a ``concurrent.futures.Future`` at once, and the callbacks run later on a worker
    thread, never on the event loop's thread; the Future completes once they ran.
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

    @bridge
    def import_url(
        self,
        content_url: str,
        filename: str,
        purpose: str,
        parameters: None = None,
        **options: Unpack[Options],
    ) -> OpenAIFile:
        """Has Azure fetch a file from a URL; see ``AsyncFilesAPI.import_url``."""

    def iterate(
        self,
        parameters: FileListParameters | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Iterator[OpenAIFile]:
        """Returns an iterator over every file, fetching pages as it goes; takes no callbacks."""
        pages = self._run(functools.partial(self._api.iterate, parameters, **options))
        return self._pages(pages)


class UploadsAPI(_SyncAPI):
    """The Uploads API for scripts: the methods of ``AsyncUploadsAPI``, blocking or with a
    Future (see ``FilesAPI``)."""

    _api: AsyncUploadsAPI

    @bridge
    def create(
        self,
        filename: str,
        purpose: str,
        bytes: int,
        mime_type: str,
        parameters: None = None,
        **options: Unpack[UploadCreateOptions],
    ) -> Upload:
        """Creates an Upload; see ``AsyncUploadsAPI.create``."""

    @bridge
    def add_part(
        self, upload_id: str, data: UploadFile, parameters: None = None, **options: Unpack[Options]
    ) -> UploadPart:
        """Adds a Part to an Upload; see ``AsyncUploadsAPI.add_part``."""

    @bridge
    def complete(
        self,
        upload_id: str,
        part_ids: Sequence[str],
        parameters: None = None,
        **options: Unpack[CompleteOptions],
    ) -> Upload:
        """Completes an Upload; see ``AsyncUploadsAPI.complete``."""

    @bridge
    def cancel(self, upload_id: str, parameters: None = None, **options: Unpack[Options]) -> Upload:
        """Cancels an Upload; see ``AsyncUploadsAPI.cancel``."""


def _future_of(
    start: Callable[[], asyncio.Task[T]], delivered: concurrent.futures.Future[None]
) -> concurrent.futures.Future[T]:
    """Starts a call on the loop's thread and mirrors its task into a thread-safe Future, which
    completes once the call ended and its callbacks ran (``delivered``)."""
    task = start()
    loop = asyncio.get_running_loop()
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def copy(_: concurrent.futures.Future[None]) -> None:
        if future.cancelled():
            return
        if task.cancelled():
            future.cancel()
        elif (exc := task.exception()) is not None:
            future.set_exception(exc)
        else:
            future.set_result(task.result())

    def cancel_task(done: concurrent.futures.Future[T]) -> None:
        if done.cancelled():
            loop.call_soon_threadsafe(task.cancel)

    # NOTE: the last callback sets ``delivered``, and runs once the task is done.
    delivered.add_done_callback(copy)
    future.add_done_callback(cancel_task)
    return future


_open_clients: weakref.WeakSet[Client] = weakref.WeakSet()
#: Clients with calls in flight: kept alive until those calls and their callbacks end.
_busy_clients: set[Client] = set()
_registry_lock = threading.Lock()
_exit_hook_registered = False


class Client:
    """The sync client: ``AsyncClient``'s arguments, for scripts; ``client.files`` is a FilesAPI.

    Use it as a context manager or call ``close()``. A client the program drops, or leaves open
    at interpreter exit, lets every started call finish and delivers its callbacks first.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        **options: Unpack[ClientOptions],
    ):
        _warn_if_in_a_running_loop()
        if session is not None:
            raise InvalidArgumentError(
                "the sync Client runs its own event loop and creates its session there; "
                "to borrow a session, use AsyncClient(session=...)"
            )
        self._closed = False
        self._lock = threading.Lock()
        self._in_flight = 0
        runtime = LoopThread()
        try:
            # NOTE: built on the loop's thread, so the session belongs to the loop.
            self._client: AsyncClient = runtime.call(
                functools.partial(AsyncClient, api_key, **options)
            )
        except BaseException:
            runtime.stop()
            runtime.join()
            raise
        self._runtime = runtime
        self.files = FilesAPI(self, self._client.files)
        """The Files API."""
        self.uploads = UploadsAPI(self, self._client.uploads)
        """The Uploads API."""
        # NOTE: an idle client that is dropped closes its session and stops its loop, without
        # waiting, from whichever thread the collector runs on.
        self._finalizer = weakref.finalize(self, _shut_down, runtime, self._client)
        self._finalizer.atexit = False
        _register(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<aikit_files.Client {state} {self._client!r}>"

    # --- calls ---------------------------------------------------------------------------

    def _run(self, func: Callable[..., Any], *args: Any) -> Any:
        if not self._runtime.in_loop_thread:  # there, the runtime refuses the call
            _warn_if_in_a_running_loop()
        if self._closed:
            raise ClientClosedError("the client is closed; no new call can start")
        self._begin()
        try:
            return self._runtime.call(func, *args)
        finally:
            self._end()

    def _begin(self) -> None:
        with self._lock:
            self._in_flight += 1
            if self._in_flight == 1:
                with _registry_lock:
                    _busy_clients.add(self)

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                with _registry_lock:
                    _busy_clients.discard(self)

    def _start_with_callbacks(
        self,
        method: Callable[..., asyncio.Task[Any]],
        args: tuple[Any, ...],
        options: dict[str, Any],
        callbacks: dict[str, Callback | None],
    ) -> concurrent.futures.Future[Any]:
        """Starts a call whose callbacks run on the callback thread, in order; the client stays
        alive until the last of them returned."""
        for name in ("on_response", "on_error"):
            callback = callbacks[name]
            options[name] = None if callback is None else self._off_the_loop(callback)
        delivered: concurrent.futures.Future[None] = concurrent.futures.Future()
        options["on_terminate"] = self._off_the_loop(callbacks["on_terminate"], delivered=delivered)
        self._begin()
        try:
            future: concurrent.futures.Future[Any] = self._run(
                _future_of, functools.partial(method, *args, **options), delivered
            )
        except BaseException:
            self._end()
            raise
        return future

    def _off_the_loop(
        self,
        callback: Callback | None,
        *,
        delivered: concurrent.futures.Future[None] | None = None,
    ) -> Callback:
        """The callback the async layer awaits: it runs ``callback`` on the callback thread
        and waits for it, so callbacks run in order, never on the loop's thread, and
        ``close()`` waits for them. The last one (given ``delivered``) releases the call's
        hold on the client, then sets ``delivered``."""
        executor = self._runtime.callback_executor

        async def hop(result: Result) -> None:
            try:
                if callback is not None:
                    loop = asyncio.get_running_loop()
                    await loop.run_in_executor(executor, _run_on_this_thread, callback, result)
            finally:
                if delivered is not None:
                    self._end()
                    delivered.set_result(None)

        return hop

    def _off_the_loop_progress(self, on_progress: ProgressCallback) -> ProgressCallback:
        """``on_progress`` handed to the callback thread, in order, without waiting for it."""
        executor = self._runtime.callback_executor

        def report(done: int, total: int | None) -> None:
            executor.submit(_report_progress, on_progress, done, total)

        return report

    # --- closing -------------------------------------------------------------------------

    def close(self, *, cancel: bool = False) -> None:
        """Waits for the calls in flight and their callbacks, then releases everything.

        Args:
            cancel: cancel the calls in flight instead; their ``on_terminate`` still fires.

        Raises:
            AIKitError: called from one of this client's callbacks, which it would wait for.
        """
        if getattr(_callback_thread, "active", False):
            raise AIKitError(
                "close() was called from a callback; it would wait for that callback to return"
            )
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._finalizer.detach()
        try:
            self._runtime.call(functools.partial(self._client.aclose, cancel=cancel))
        finally:
            self._runtime.stop()
            self._runtime.join()
            with _registry_lock:
                _busy_clients.discard(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _shut_down(runtime: LoopThread, client: AsyncClient) -> None:
    """Closes a dropped client's session and stops its loop, without waiting."""

    async def shut_down() -> None:
        try:
            await client.aclose()
        finally:
            runtime.loop.stop()

    runtime.submit(shut_down())


def _register(client: Client) -> None:
    global _exit_hook_registered
    with _registry_lock:
        _open_clients.add(client)
        if _exit_hook_registered:
            return
        _exit_hook_registered = True
    # NOTE: the hook runs in threading's own exit list, before the interpreter joins threads
    # and before atexit: an open client is closed there, after its calls and callbacks end.
    # concurrent.futures registers its own hook in that list (which stops every pool) when
    # first imported: import it now, so that ours is registered after it and runs before it.
    importlib.import_module("concurrent.futures.thread")
    register: Callable[[Callable[[], None]], None] = getattr(threading, "_register_atexit")  # noqa: B009
    register(_close_every_client)


def _close_every_client() -> None:
    with _registry_lock:
        clients = list(_open_clients)
    for client in clients:
        try:
            client.close()
        except Exception:
            logger.exception("closing %r at exit failed", client)
