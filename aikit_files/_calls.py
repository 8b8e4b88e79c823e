"""Calls as tasks: keeps each referenced until it ended and its callbacks ran, and delivers results.

This is the 4D asynchronous-call pattern: when a call's task completes, one result object is
built and handed first to ``on_response`` (success) or ``on_error`` (failure), then always to
``on_terminate``; each exactly once, whatever ended the call.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Coroutine, Mapping
from typing import Any, TypeVar

import attrs

from ._exceptions import APIError, APIStatusError, ClientClosedError
from ._models import ErrorInfo, RateLimit, Result
from ._params import Callback, Parameters
from ._protocol.responses import request_id

logger = logging.getLogger("aikit_files")

T = TypeVar("T")


@attrs.define
class CallState:
    """What one call learned from the server so far; the transport fills it in."""

    headers: Mapping[str, str] = attrs.Factory(dict)
    """The headers of the last response received."""

    def observe(self, headers: Mapping[str, str]) -> None:
        """Records the headers of a response."""
        self.headers = headers

    @property
    def request_id(self) -> str | None:
        """The request id of the last response (``x-request-id``, or Azure's)."""
        return request_id(self.headers)


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


def build_result(
    result_cls: type[Result],
    field: str | None,
    task: asyncio.Task[Any],
    state: CallState,
) -> Result:
    """Builds the result object of a finished call's task."""
    headers: Mapping[str, str] = state.headers
    if task.cancelled():
        return result_cls(
            success=False,
            errors=error_infos(asyncio.CancelledError()),
            cancelled=True,
            headers=headers,
            rate_limit=RateLimit.from_headers(headers),
            request_id=state.request_id,
            exception=asyncio.CancelledError(),
        )
    exc = task.exception()
    if exc is not None:
        if isinstance(exc, APIStatusError):
            headers = exc.headers
        return result_cls(
            success=False,
            errors=error_infos(exc),
            headers=headers,
            rate_limit=RateLimit.from_headers(headers),
            request_id=getattr(exc, "request_id", None) or state.request_id,
            exception=exc,
        )
    value = task.result()
    fields: dict[str, Any] = {field: value} if field is not None else {}
    return result_cls(
        success=True,
        headers=headers,
        rate_limit=RateLimit.from_headers(headers),
        request_id=state.request_id,
        value=value,
        **fields,
    )


def callbacks_in_order(params: Parameters, result: Result) -> list[Callback]:
    """The callbacks a result goes to: on_response or on_error, then on_terminate."""
    first = params.on_response if result.success else params.on_error
    return [cb for cb in (first, params.on_terminate) if cb is not None]


def _log_failure(callback: Callback) -> None:
    logger.exception("callback %r raised; the other callbacks still run", callback)


async def deliver(params: Parameters, result: Result) -> None:
    """Runs a result's callbacks in order; one that raises is logged and harms nothing else."""
    for callback in callbacks_in_order(params, result):
        try:
            outcome = callback(result)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            _log_failure(callback)


async def _await(awaitable: Awaitable[object]) -> None:
    await awaitable


def deliver_blocking(params: Parameters, result: Result) -> None:
    """``deliver`` for a thread with no event loop: what the sync wrapper's callbacks run on.

    A plain callback runs as it is (so it may call the sync client again); a coroutine function's
    coroutine runs to completion on an event loop of its own.
    """
    for callback in callbacks_in_order(params, result):
        try:
            outcome = callback(result)
            if inspect.isawaitable(outcome):
                asyncio.run(_await(outcome))
        except Exception:
            _log_failure(callback)


class CallTracker:
    """Starts calls as tasks and keeps every one referenced until it and its callbacks ended."""

    def __init__(self) -> None:
        self._calls: set[asyncio.Task[Any]] = set()
        self._deliveries: set[asyncio.Task[None]] = set()
        self._closing = False

    def check_open(self) -> None:
        """Raises ``ClientClosedError`` if the client is closing or closed."""
        if self._closing:
            raise ClientClosedError("the client is closed; no new call can start")

    def start(
        self,
        coro: Coroutine[Any, Any, T],
        *,
        params: Parameters,
        state: CallState,
        result_cls: type[Result],
        field: str | None,
        name: str,
    ) -> asyncio.Task[T]:
        """Runs ``coro`` as a task whose result goes to ``params``' callbacks when it completes.

        Args:
            coro: the call itself; it reports responses into ``state``.
            params: the call's effective parameters (its callbacks).
            state: filled in by the transport while the call runs.
            result_cls: the result object to build when the call ends.
            field: the field of ``result_cls`` that receives the call's value.
            name: the task's name, for debugging.

        Returns:
            The call's task: awaiting it gives the call's value or raises its error.
        """
        if self._closing:
            coro.close()
            self.check_open()
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._calls.add(task)

        def on_done(done: asyncio.Task[T]) -> None:
            self._calls.discard(done)
            if not params.has_callbacks:
                return
            result = build_result(result_cls, field, done, state)
            delivery = asyncio.get_running_loop().create_task(
                deliver(params, result), name=f"{name}:callbacks"
            )
            self._deliveries.add(delivery)
            delivery.add_done_callback(self._deliveries.discard)

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
