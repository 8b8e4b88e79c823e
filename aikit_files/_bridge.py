"""The sync twin's bridge for one call: it runs where the async call starts, on the client's loop,
learns there whether the call has callbacks, and hands back the value or a Future.

The async method's first ``merge`` hands its checked parameters to a ``CallStart`` (through
``_params.call_hook``): that is the one place the call's callbacks are known. A call with a
callback gets them wrapped to run on the client's callback thread, in order, never on the
loop's; ``on_progress`` too, without being waited for. Then, without callbacks, the bridge
awaits the call's task (the caller blocks for its value); with one, it hands back a
``CallFuture`` at once, which completes once the call ended and its callbacks ran.

Re-entry: a callback runs on the client's one callback thread, so waiting there for a call of
the same client that has callbacks (its Future) could never end: that call's callbacks queue
behind the waiting one. ``CallFuture.result`` and ``exception`` refuse such a wait with
``CallbackDeadlockError``, as ``Client.close`` does (``concurrent.futures.wait`` and
``as_completed`` wait without asking the Future, and are not watched). A blocking call made
from a callback needs nothing from that thread and runs; so does a wait for another client's
Future, whose callbacks run on that client's own thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import os
import pathlib
import sys
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

import attrs

from ._client import AsyncClient
from ._compat import running_loop
from ._exceptions import CallbackDeadlockError
from ._params import Callback, Parameters, ProgressCallback, call_hook
from ._portal import CallbackThread
from ._results import Result

logger = logging.getLogger("aikit_files")

T = TypeVar("T")
P = TypeVar("P", bound=Parameters)

_PACKAGE = str(pathlib.Path(__file__).parent) + os.sep

_warned_about_running_loop = False


def warn_if_in_a_running_loop() -> None:
    """Warns once that a blocking call stalls the event loop of the thread it is made from,
    pointing at the caller's line (the first frame outside this package).

    A Jupyter kernel runs an event loop in the cell's thread, yet a cell is where a blocking
    call belongs (as with openai-python's sync client): no warning there.
    """
    global _warned_about_running_loop
    if _warned_about_running_loop or running_loop() is None:
        return
    if _in_a_jupyter_kernel():
        return
    _warned_about_running_loop = True
    warnings.warn(
        "aikit_files.Client blocks, and this thread runs an event loop, which waits meanwhile; "
        "in async code, use aikit_files.AsyncClient and await its calls",
        RuntimeWarning,
        stacklevel=_callers_level(),
    )


def _callers_level() -> int:
    """The ``stacklevel`` of the first frame outside this package, for ``warnings.warn`` called
    by this function's caller."""
    # NOTE: this frame counts for the warning's caller, which is level 1.
    frame = inspect.currentframe()
    level = 0
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return max(level, 1)


def _in_a_jupyter_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel (IPython's shell there has a kernel)."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return getattr(shell, "kernel", None) is not None


def _run_callback(callback: Callable[..., object], *args: Any) -> None:
    """Runs a user's callback on the callback thread; a coroutine function's coroutine runs to
    its end on an event loop of its own."""
    outcome = callback(*args)
    if inspect.isawaitable(outcome):
        asyncio.run(_await(outcome))


async def _await(awaitable: Awaitable[object]) -> None:
    await awaitable


def _report_progress(on_progress: ProgressCallback, done: int, total: int | None) -> None:
    try:
        _run_callback(on_progress, done, total)
    except Exception:
        logger.exception("on_progress %r raised; the transfer goes on", on_progress)


class CallFuture(concurrent.futures.Future[T]):
    """The Future of a sync call made with callbacks.

    It refuses a wait that could never end: one on its client's callback thread (from a
    callback) while the call is still running.
    """

    def __init__(self, callback_thread: int | None) -> None:
        super().__init__()
        self._callback_thread = callback_thread

    def _refuse_a_deadlock(self) -> None:
        if not self.done() and threading.get_ident() == self._callback_thread:
            raise CallbackDeadlockError(
                "a callback of the sync client waited for another call's Future of the same "
                "client: that call's callbacks run on the same thread, after this one, so the "
                "wait would never end; use its on_terminate (or on_response) callback instead"
            )

    def result(self, timeout: float | None = None) -> T:
        """The call's value, once it and its callbacks ended (see ``concurrent.futures``).

        Raises:
            CallbackDeadlockError: called from a callback of the same client, before the end.
        """
        self._refuse_a_deadlock()
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The call's error, once it and its callbacks ended (see ``concurrent.futures``).

        Raises:
            CallbackDeadlockError: called from a callback of the same client, before the end.
        """
        self._refuse_a_deadlock()
        return super().exception(timeout)


class SyncCalls(Protocol):
    """What the sync APIs need of their ``Client``."""

    def _call(self, start: Callable[[], asyncio.Task[T]]) -> T | Future[T]:
        """Runs ``start`` (an async method's call) on the loop: its value, or its Future when
        it has callbacks."""

    def _iterate(self, start: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
        """Runs ``start`` on the loop and iterates over its items from this thread."""

    def _async_client(self) -> AsyncClient:
        """The ``AsyncClient`` of this process, on the loop."""


class Holds(Protocol):
    """What keeps a sync client alive while a call with callbacks is under way."""

    def _hold(self) -> None:
        """A call started."""

    def _release(self) -> None:
        """A call ended and its callbacks ran."""


class CallStart:
    """One sync call as it starts on the loop (a ``_params.CallHook``): moves its callbacks and
    ``on_progress`` off the loop, and knows whether it has callbacks."""

    def __init__(self, callbacks: CallbackThread, holds: Holds) -> None:
        self._callbacks = callbacks
        self._holds = holds
        self.delivered: concurrent.futures.Future[None] | None = None
        """Set once the call's last callback ran; None for a call without callbacks."""

    def __call__(self, params: P, /) -> P:
        changes: dict[str, Any] = {}
        on_progress = getattr(params, "on_progress", None)
        if on_progress is not None:
            changes["on_progress"] = self._progress_off_the_loop(on_progress)
        if params.has_callbacks:
            self.delivered = concurrent.futures.Future()
            changes["on_response"] = self._off_the_loop(params.on_response)
            changes["on_error"] = self._off_the_loop(params.on_error)
            changes["on_terminate"] = self._off_the_loop(params.on_terminate, last=True)
        return attrs.evolve(params, **changes) if changes else params

    def _off_the_loop(self, callback: Callback | None, *, last: bool = False) -> Callback | None:
        """The callback the async layer awaits: it runs ``callback`` on the callback thread and
        waits for it, so callbacks run in order, never on the loop's thread, and ``close()``
        waits for them. The last one releases the call's hold on the client, then sets
        ``delivered``."""
        if callback is None and not last:
            return None
        callbacks, holds, delivered = self._callbacks, self._holds, self.delivered

        async def hop(result: Result) -> None:
            try:
                if callback is not None:
                    await asyncio.wrap_future(
                        callbacks.submit(lambda: _run_callback(callback, result))
                    )
            finally:
                if last and delivered is not None:
                    holds._release()
                    delivered.set_result(None)

        return hop

    def each_off_the_loop(self, callback: Callable[[Any], object]) -> Callable[[Any], Any]:
        """A callback called once per item (``create_many``'s ``on_file``), which the async
        layer awaits: it runs ``callback`` on the callback thread, in order with the call's
        other callbacks, and waits for it."""
        callbacks = self._callbacks

        async def hop(item: Any) -> None:
            await asyncio.wrap_future(callbacks.submit(lambda: _run_callback(callback, item)))

        return hop

    def _progress_off_the_loop(self, on_progress: ProgressCallback) -> ProgressCallback:
        """``on_progress`` handed to the callback thread, in order, without waiting for it."""
        callbacks = self._callbacks

        def report(done: int, total: int | None) -> None:
            callbacks.submit(lambda: _report_progress(on_progress, done, total))

        return report

    async def run(self, start: Callable[[], asyncio.Task[T]]) -> T | CallFuture[T]:
        """Starts the call on the loop: its value, awaited, or its Future when it has
        callbacks."""
        token = call_hook.set(self)
        try:
            task = start()
        finally:
            call_hook.reset(token)
        delivered = self.delivered
        if delivered is None:
            return await task
        self._holds._hold()
        return _future_of(task, delivered, self._callbacks.ident)


def each_off_the_loop(callback: Callable[[Any], object] | None) -> Callable[[Any], Any] | None:
    """``callback`` moved to the callback thread of the sync call starting now (called on the
    loop, where ``call_hook`` holds it); as it is outside a sync call."""
    start = call_hook.get()
    if callback is None or not callable(callback) or not isinstance(start, CallStart):
        return callback
    return start.each_off_the_loop(callback)


def _future_of(
    task: asyncio.Task[T], delivered: concurrent.futures.Future[None], callback_thread: int | None
) -> CallFuture[T]:
    """Mirrors a call's task into a thread-safe Future, which completes once the call ended and
    its callbacks ran (``delivered``); cancelling the Future cancels the call."""
    loop = task.get_loop()
    future: CallFuture[T] = CallFuture(callback_thread)

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
