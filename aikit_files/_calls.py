"""Calls as tasks: keeps each referenced until it ended and its callbacks ran, and delivers results.

This is the 4D asynchronous-call pattern: when a call's task completes, one result object is
built and handed first to ``on_response`` (success) or ``on_error`` (failure), then always to
``on_terminate``; each exactly once, whatever ended the call. Plain callbacks run at once, in
the task's done-callback, before whoever awaits the task resumes; from the first coroutine
function on, the rest of the delivery is a task of its own. A failure that reaches nobody (no
callback, the task never awaited) is logged as one line on logger ``aikit_files``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from ._compat import exception_unretrieved
from ._deadline import within_total
from ._exceptions import APIError, APIStatusError, ClientClosedError
from ._params import Callback, Parameters
from ._protocol.responses import Reply, request_id
from ._results import ErrorInfo, RateLimit, Result

logger = logging.getLogger("aikit_files")

T = TypeVar("T")


def error_infos(exc: BaseException) -> list[ErrorInfo]:
    """Describes an exception as the ``errors`` of a result."""
    if isinstance(exc, APIStatusError):
        return [
            ErrorInfo(
                message=exc.message,
                code=exc.code,
                type=exc.type,
                param=exc.param,
                status=exc.status_code,
            )
        ]
    if isinstance(exc, asyncio.CancelledError):
        return [ErrorInfo(message="The call was cancelled.", type="cancelled")]
    message = exc.message if isinstance(exc, APIError) else str(exc) or type(exc).__name__
    return [ErrorInfo(message=message, type=type(exc).__name__)]


def _meta(headers: Mapping[str, str]) -> dict[str, Any]:
    return {
        "headers": headers,
        "rate_limit": RateLimit.from_headers(headers),
        "request_id": request_id(headers),
    }


def build_result(
    result_type: type[Result], task: asyncio.Task[Any], reply: Reply[Any] | None
) -> Result:
    """Builds the result object of a finished call's task.

    Args:
        result_type: the call's result class.
        task: the call's task, done.
        reply: the reply the call's value came from, when it succeeded.
    """
    if task.cancelled():
        return result_type(success=False, **failure_fields(None))
    exc = task.exception()
    if exc is not None:
        return result_type(success=False, **failure_fields(exc))
    assert reply is not None
    return result_type.succeeded(reply.value, **_meta(reply.headers))


def failure_fields(exc: BaseException | None) -> dict[str, Any]:
    """The fields of the result of a call that failed with ``exc`` (None: cancelled)."""
    if exc is None:
        cancelled = asyncio.CancelledError()
        return {"errors": error_infos(cancelled), "cancelled": True, "exception": cancelled,
                **_meta({})}  # fmt: skip
    meta = _meta(exc.headers if isinstance(exc, APIStatusError) else {})
    if isinstance(exc, APIError) and exc.request_id:
        meta["request_id"] = exc.request_id
    return {"errors": error_infos(exc), "exception": exc, **meta}


def callbacks_in_order(params: Parameters, result: Result) -> list[Callback]:
    """The callbacks a result goes to: on_response or on_error, then on_terminate."""
    first = params.on_response if result.success else params.on_error
    return [cb for cb in (first, params.on_terminate) if cb is not None]


def deliver(params: Parameters, result: Result) -> Coroutine[Any, Any, None] | None:
    """Runs a result's callbacks in order, at once, until one returns an awaitable (a
    coroutine function's coroutine): the rest of the delivery is then returned, to be run as a
    task; None when every callback ran. One that raises is logged and harms nothing else.
    """
    callbacks = callbacks_in_order(params, result)
    for index, callback in enumerate(callbacks):
        outcome = _call(callback, result)
        if outcome is not None:
            return _deliver_rest(callback, outcome, callbacks[index + 1 :], result)
    return None


def _call(callback: Callback, result: Result) -> Awaitable[Any] | None:
    """Calls ``callback``; what it returned when that is to be awaited."""
    try:
        outcome = callback(result)
    except Exception:
        _log_failure(callback)
        return None
    return outcome if inspect.isawaitable(outcome) else None


async def _deliver_rest(
    callback: Callback, outcome: Awaitable[Any], rest: list[Callback], result: Result
) -> None:
    """Awaits ``callback``'s ``outcome``, then runs the callbacks after it, in order."""
    await _settle(callback, outcome)
    for later in rest:
        if (awaited := _call(later, result)) is not None:
            await _settle(later, awaited)


async def _settle(callback: Callback, outcome: Awaitable[Any]) -> None:
    try:
        await outcome
    except Exception:
        _log_failure(callback)


def _log_failure(callback: Callback) -> None:
    logger.exception("callback %r raised; the other callbacks still run", callback)


class _Call:
    """One call: runs the operation and keeps the reply its value came from."""

    __slots__ = ("reply",)

    def __init__(self) -> None:
        self.reply: Reply[Any] | None = None

    async def run(self, operation: Coroutine[Any, Any, Reply[T]], total: float | None) -> T:
        reply = await within_total(operation, total)
        self.reply = reply
        return reply.value


class _CallTask(asyncio.Task[T]):
    """A call's task. A failure that nobody received (no callback was given, and the task was
    never awaited) is logged, once it is collected, as one line on logger ``aikit_files``
    naming the call and its error, in place of asyncio's "Task exception was never retrieved"
    and its traceback."""

    def __del__(self) -> None:
        try:
            if exception_unretrieved(self):
                # NOTE: asking for the exception marks it retrieved: asyncio then stays quiet.
                error = self.exception()
                text = " ".join(str(error).split()) or "no message"
                logger.error(
                    "%s failed and nobody received its error (no callback was given and its "
                    "task was never awaited): %s: %s",
                    self.get_name(),
                    type(error).__name__,
                    text,
                )
        except Exception:  # a finalizer must not raise; asyncio reports the error then
            pass
        super().__del__()


def _start_task(
    loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T], name: str
) -> asyncio.Task[T]:
    """Starts a call's task: on Python 3.12+, eagerly (its first step runs now, up to its first
    wait, which saves a trip through the loop's queue a call). A loop with a task factory of
    its own gets the task from it: the user's loop is never changed; an error nobody receives
    is then asyncio's to report, as for any task."""
    if loop.get_task_factory() is not None:
        return loop.create_task(coroutine, name=name)
    if sys.version_info >= (3, 12):
        return _CallTask(coroutine, loop=loop, name=name, eager_start=True)
    return _CallTask(coroutine, loop=loop, name=name)


def _running_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "the methods of the async client start asyncio tasks, so they must be called from a "
            "running event loop (inside async code); from synchronous code, use af.Client"
        ) from None


class CallTracker:
    """Starts calls as tasks and keeps every one referenced until it and its callbacks ended."""

    def __init__(self, total: Callable[[Parameters], float | None]) -> None:
        # The total time limit (seconds, or None) of a call with given parameters: a deadline
        # for the whole call, set when it starts (``within_total``).
        self._total = total
        self._calls: set[asyncio.Task[Any]] = set()
        self._deliveries: set[asyncio.Task[None]] = set()
        self._closing = False

    def check_open(self) -> None:
        """Raises ``ClientClosedError`` if the client is closing or closed."""
        if self._closing:
            raise ClientClosedError("the client is closed; no new call can start")

    def start(
        self,
        operation: Coroutine[Any, Any, Reply[T]],
        params: Parameters,
        result_type: type[Result],
        name: str,
        *,
        cancelled_result: Callable[[], Result] | None = None,
    ) -> asyncio.Task[T]:
        """Runs ``operation`` as a task whose result goes to ``params``' callbacks when it ends.

        Args:
            operation: the call itself; it returns the reply its value comes from.
            params: the call's effective parameters (its callbacks).
            result_type: the result object to build when the call ends.
            name: the operation's name, for the task's name.
            cancelled_result: builds the result of the call once cancelled, when it has more to
                say than that (a batch: what became of each file).

        Returns:
            The call's task: awaiting it gives the call's value or raises its error.

        Raises:
            ClientClosedError: the client is closing or closed (``operation`` is then closed).
            RuntimeError: no event loop runs in this thread.
        """
        try:
            self.check_open()
            loop = _running_loop()
        except BaseException:
            # NOTE: a coroutine dropped unawaited would warn; it never started, so close it.
            operation.close()
            raise
        call = _Call()
        name = f"aikit_files.{name}"
        task = _start_task(loop, call.run(operation, self._total(params)), name)
        self._calls.add(task)

        def on_done(done: asyncio.Task[T]) -> None:
            self._calls.discard(done)
            # NOTE: a task cancelled before its first step never started ``operation``, which
            # would warn when dropped unawaited; closing an ended one does nothing.
            operation.close()
            if not params.has_callbacks:
                return
            # NOTE: plain callbacks run here, at once: before whoever awaits the task resumes,
            # and even when the loop is being shut down (asyncio.run cancels the tasks it
            # finds, a delivery task included, before its first step).
            if done.cancelled() and cancelled_result is not None:
                result = cancelled_result()
            else:
                result = build_result(result_type, done, call.reply)
            rest = deliver(params, result)
            if rest is None:
                return
            delivery = loop.create_task(rest, name=f"{name}:callbacks")
            self._deliveries.add(delivery)
            delivery.add_done_callback(self._deliveries.discard)

        if task.done():
            # NOTE: an eager task that ended in its first step (it failed before any wait):
            # its callbacks run now, before whoever awaits it resumes, as for any other.
            on_done(task)
        else:
            task.add_done_callback(on_done)
        return task

    async def aclose(self, *, cancel: bool = False) -> None:
        """Refuses new calls, then waits for every call and every callback delivery to end.

        Args:
            cancel: cancel the calls in flight instead of letting them finish; their
                ``on_terminate`` still fires, with ``cancelled`` set.
        """
        self._closing = True
        # NOTE: a callback may close the client; the delivery running it is not waited for,
        # since it would wait for itself.
        running = asyncio.current_task()
        while pending := (self._calls | self._deliveries) - {running}:
            if cancel:
                for task in self._calls:
                    task.cancel()
            # NOTE: waiting takes no result from these tasks: a call's outcome belongs to whoever
            # awaits it, or to its callbacks.
            await asyncio.wait(pending)
