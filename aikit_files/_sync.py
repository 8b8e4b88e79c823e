"""The sync client: ``Client``, its engine in each process, and its end (closed, dropped, at
interpreter exit, or inherited by a forked child).

One event loop runs in a background thread for the client's life (anyio's blocking portal,
``_portal.Portal``); the aiohttp session and the ``AsyncClient`` are created inside it. ``client.files`` and ``client.uploads``
are the sync twins (``_sync_files``, ``_sync_uploads``), whose methods start their async twin
through ``Client._call`` (``_bridge``).

A client the program drops, or forgets to close, still finishes what it started: a call in
flight keeps its client alive until its callbacks ran; an idle client that is garbage-collected
stops its loop; at interpreter exit every client still open is closed, after its calls (the
exit hook runs before the interpreter joins its threads, see ``_compat.register_exit_hook``).

Fork: a child made by ``fork`` (gunicorn ``--preload``, Celery prefork, ``multiprocessing``)
has none of its parent's threads. There, the client leaves its parent's loop, session and
sockets untouched (neither used nor closed: they are the parent's) and, on its first call in
the child, starts a loop thread, worker threads and connections of its own; at the child's
exit only those are closed. ``os.register_at_fork`` resets the client's state in the child,
and the engine's process id is checked on each call (a fork that skips the hooks).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar, Unpack

import aiohttp

from ._bridge import CallStart, warn_if_in_a_running_loop
from ._client import AsyncClient
from ._compat import register_exit_hook
from ._config import ClientOptions
from ._exceptions import (
    CallbackDeadlockError,
    ClientClosedError,
    InvalidArgumentError,
    SyncInEventLoopError,
)
from ._portal import Portal
from ._sync_files import FilesAPI
from ._sync_uploads import UploadsAPI

logger = logging.getLogger("aikit_files")

T = TypeVar("T")


class _Engine:
    """A client's loop thread and its ``AsyncClient``, in the process that started them."""

    def __init__(self, make: Callable[[], AsyncClient]) -> None:
        runtime = Portal()
        try:
            # NOTE: built on the loop's thread, so the session belongs to the loop.
            self.client: AsyncClient = runtime.call(make)
        except BaseException:
            runtime.stop()
            runtime.join()
            raise
        self.runtime = runtime


_open_clients: weakref.WeakSet[Client] = weakref.WeakSet()
#: Clients with calls in flight: kept alive until those calls and their callbacks end.
_busy_clients: set[Client] = set()
_registry_lock = threading.Lock()
_exit_hook_registered = False
#: In a forked child, the engines inherited from the parent: kept referenced, so that the
#: collector never closes the parent's sockets (nor warns about them) in the child.
_left_to_the_parent: list[_Engine] = []


class Client:
    """The sync client: ``AsyncClient``'s arguments, for scripts; ``client.files`` is a FilesAPI.

    Use it as a context manager or call ``close()``. A client the program drops, or leaves open
    at interpreter exit, lets every started call finish and delivers its callbacks first. A
    client inherited by a forked child works there on threads and connections of its own.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        **options: Unpack[ClientOptions],
    ):
        warn_if_in_a_running_loop()
        if session is not None:
            raise InvalidArgumentError(
                "the sync Client runs its own event loop and creates its session there; "
                "to borrow a session, use AsyncClient(session=...)"
            )
        self._closed = False
        self._lock = threading.Lock()
        self._in_flight = 0

        # NOTE: a closure, not a partial: the key shows in no repr. A forked child makes its
        # AsyncClient again with it.
        def make() -> AsyncClient:
            return AsyncClient(api_key, **options)

        self._make = make
        self._engine: _Engine | None = None
        self._finalizer: weakref.finalize[Any, Client] | None = None
        self._start_engine()  # at once: a bad argument raises here
        self.files = FilesAPI(self)
        """The Files API."""
        self.uploads = UploadsAPI(self)
        """The Uploads API."""
        _register(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        engine = self._engine
        inner = repr(engine.client) if engine is not None else "(not started in this process)"
        return f"<aikit_files.Client {state} {inner}>"

    # --- the engine, in this process ----------------------------------------------------

    def _start_engine(self) -> _Engine:
        engine = _Engine(self._make)
        self._engine = engine
        # NOTE: an idle client that is dropped closes its session and stops its loop, without
        # waiting, from whichever thread the collector runs on.
        self._finalizer = weakref.finalize(self, _shut_down, engine)
        self._finalizer.atexit = False
        return engine

    def _here(self) -> _Engine:
        """The engine of this process, started on the first call in a forked child.

        Raises:
            ClientClosedError: the client is closed.
        """
        if self._closed:
            raise ClientClosedError("the client is closed; no new call can start")
        engine = self._engine
        if engine is not None and engine.runtime.pid == os.getpid():
            return engine
        with self._lock:
            if self._engine is not None and self._engine.runtime.pid != os.getpid():
                self._forget_the_parent()  # a fork that ran no at-fork hook
            return self._engine or self._start_engine()

    def _forget_the_parent(self) -> None:
        """In a forked child: leaves the parent's engine to the parent, untouched."""
        self._lock = threading.Lock()
        self._in_flight = 0
        if self._finalizer is not None:
            self._finalizer.detach()
        if self._engine is not None:
            _left_to_the_parent.append(self._engine)
            self._engine = None

    def _async_client(self) -> AsyncClient:
        return self._here().client

    # --- calls ---------------------------------------------------------------------------

    def _call(self, start: Callable[[], asyncio.Task[T]]) -> T | Future[T]:
        """Starts an async method's call on the loop: blocks for its value, or returns its
        Future at once when it has callbacks (see ``_bridge``)."""
        runtime = self._here().runtime
        call = CallStart(runtime.callbacks, self)
        result: T | Future[T] = self._run(call.run, start)
        return result

    def _iterate(self, start: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
        """The items of the async iterator ``start`` returns on the loop, as a plain iterator;
        ``start`` runs now, so a bad argument raises here."""
        return self._items(self._run(start))

    def _items(self, pages: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self._run(pages.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(pages, "aclose", None)
            if aclose is not None and not self._closed:
                self._run(aclose)

    def _run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Runs ``func`` on the loop's thread (awaiting it if it is async) and returns its value."""
        runtime = self._here().runtime
        if not runtime.in_loop_thread:  # there, the runtime refuses the call
            warn_if_in_a_running_loop()
        self._hold()
        try:
            return runtime.call(func, *args)
        finally:
            self._release()

    def _hold(self) -> None:
        """Counts a call in flight: the client stays alive until it is released."""
        with self._lock:
            self._in_flight += 1
            if self._in_flight == 1:
                with _registry_lock:
                    _busy_clients.add(self)

    def _release(self) -> None:
        """A call in flight ended (and its callbacks ran)."""
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                with _registry_lock:
                    _busy_clients.discard(self)

    # --- closing -------------------------------------------------------------------------

    def close(self, *, cancel: bool = False) -> None:
        """Waits for the calls in flight and their callbacks, then releases everything.

        Args:
            cancel: cancel the calls in flight instead; their ``on_terminate`` still fires.

        Raises:
            CallbackDeadlockError: called from one of this client's callbacks, which it would
                wait for.
            SyncInEventLoopError: called on the client's own loop.
        """
        engine = self._engine
        if engine is not None and engine.runtime.in_loop_thread:
            raise SyncInEventLoopError(
                "close() was called on the client's own event loop's thread, where waiting for "
                "its calls would deadlock"
            )
        if engine is not None and threading.get_ident() == engine.runtime.callbacks.ident:
            raise CallbackDeadlockError(
                "close() was called from a callback of this client; it would wait for that "
                "callback to return"
            )
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if engine is None or engine.runtime.pid != os.getpid():
            return  # a forked child that never called: nothing of its own to close
        if self._finalizer is not None:
            self._finalizer.detach()
        try:
            engine.runtime.call(functools.partial(engine.client.aclose, cancel=cancel))
        finally:
            engine.runtime.stop()
            engine.runtime.join()
            with _registry_lock:
                _busy_clients.discard(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _shut_down(engine: _Engine) -> None:
    """Closes a dropped client's session and stops its loop, without waiting."""

    async def shut_down() -> None:
        try:
            await engine.client.aclose()
        finally:
            engine.runtime.stop()

    engine.runtime.submit(shut_down())


def _register(client: Client) -> None:
    global _exit_hook_registered
    with _registry_lock:
        _open_clients.add(client)
        if _exit_hook_registered:
            return
        _exit_hook_registered = True
    register_exit_hook(_close_every_client)


def _close_every_client() -> None:
    with _registry_lock:
        clients = list(_open_clients)
    for client in clients:
        try:
            client.close()
        except Exception:
            logger.exception("closing %r at exit failed", client)


_resume_after_fork: list[Callable[[], None]] = []


def _before_fork() -> None:
    """Parks the loop thread of every open client of this process (``Portal.park``)."""
    for client in list(_open_clients):
        engine = client._engine
        if engine is not None and engine.runtime.pid == os.getpid():
            _resume_after_fork.append(engine.runtime.park())


def _after_fork_in_parent() -> None:
    while _resume_after_fork:
        _resume_after_fork.pop()()


def _after_fork_in_child() -> None:
    """In a forked child: no thread of the parent runs here, and a lock another thread held
    at the fork stays held; every open client starts afresh on its first call."""
    global _registry_lock
    _resume_after_fork.clear()
    _registry_lock = threading.Lock()
    _busy_clients.clear()
    for client in list(_open_clients):
        client._forget_the_parent()


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)
