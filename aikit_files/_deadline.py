"""A call's total time limit (``Timeout.total``) as one deadline for the whole call: set once
when the call starts (``within_total``, run by the call's task), it is shared by every request
of the call (retries, lookups, Parts, complete, polls), in its task and in the tasks it
starts, through a context variable; each request has the time that remains.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any, TypeVar

from ._exceptions import APITimeoutError

T = TypeVar("T")

#: The deadline of the call running in this context (the loop's time), set by ``within_total``:
#: every request of the call, in its task and in the tasks it starts, shares it.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "aikit_files_call_deadline", default=None
)


async def within_total(operation: Coroutine[Any, Any, T], total: float | None) -> T:
    """Runs a call's ``operation`` within its total time limit, if it has one.

    The deadline is computed once, now; every request the call makes (retries, lookups,
    Parts, polls) shares it, and no retry starts that could not end before it.

    Raises:
        APITimeoutError: the deadline passed; what the call was doing is cancelled.
    """
    if total is None:
        return await operation
    deadline = asyncio.timeout(total)
    try:
        async with deadline:
            # NOTE: reset on the way out: a request outside a call (a page of ``iterate``) runs
            # in its caller's context, which later calls copy.
            token = _DEADLINE.set(deadline.when())
            try:
                return await operation
            finally:
                _DEADLINE.reset(token)
    except (TimeoutError, asyncio.CancelledError) as exc:
        # NOTE: each attempt turns its own timeouts into ours; this is the deadline's, and so is
        # a cancellation past it: a TaskGroup whose task failed (a large upload's Parts) leaves
        # its cancellation of the call's task counted, and asyncio.timeout then takes its own
        # for someone else's. A cancellation of the call past its deadline is the timeout.
        if not deadline.expired():
            raise
        raise APITimeoutError(f"the call took more than its total time limit of {total} s") from exc


def call_deadline() -> float | None:
    """The deadline of the call running in this context (the loop's time); None outside one."""
    return _DEADLINE.get()
