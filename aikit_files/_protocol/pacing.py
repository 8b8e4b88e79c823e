"""Adaptive concurrency of a batch: fewer files in flight after a 429, more after a run of successes.

The transport reports each answer that asks it to slow down (a 429, or any answer with a
``Retry-After``) to the listener set in the context of the request's call (``rate_limited``):
the batch that started the call sets one per file. The file then counts as out of flight
while it waits as asked, and its retry waits for a place among the files in flight again (the
listener's answer, which the transport awaits before it sends again): the retries of one
``create`` stay its own (``max_retries``), while the batch as a whole slows down. ``Pacing`` is
the pure controller: additive increase, multiplicative decrease, as TCP's congestion control,
with the wait the server asked for.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

import attrs

from .retry import retry_after

#: What the transport awaits, after the wait asked, before it sends a request again.
Rejoin = Callable[[], Awaitable[None]]
#: Called with the delay a server asked for (None if it named none) on a 429 or a
#: ``Retry-After``; set by a batch for the calls it starts. What it returns is awaited before
#: the request is sent again, if it is.
RateLimitListener = Callable[[float | None], Rejoin | None]

rate_limit_listener: Final[contextvars.ContextVar[RateLimitListener | None]] = (
    contextvars.ContextVar("aikit_files_rate_limit_listener", default=None)
)

#: How long a 429 that named no delay holds new files back, in seconds.
DEFAULT_HOLD: Final = 0.5
#: The fewest successes in a row that raise the limit by one (else, at a limit of 1 or 2, every
#: other file would probe a server that takes no more, and be refused).
SUCCESS_RUN: Final = 8
#: The shortest hold after a 429, in seconds, whatever delay it named.
MIN_HOLD: Final = 0.01


def rate_limited(status: int, headers: Mapping[str, str]) -> Rejoin | None:
    """Tells the listener of the current call, if any, of an answer asking to slow down.

    Args:
        status: the answer's status.
        headers: the answer's headers (``Retry-After``, ``retry-after-ms``).

    Returns:
        What to await before the request is sent again; None: nothing.
    """
    listener = rate_limit_listener.get()
    if listener is None:
        return None
    delay = retry_after(headers, time.time())
    if status == 429 or delay is not None:
        return listener(delay)
    return None


@attrs.define
class Pacing:
    """How many files a batch may have in flight, and until when it must start none.

    A 429 halves the limit (not below 1) and holds new files back for the delay asked; the
    429s of the files already in flight during that delay halve it once, since they were sent
    at the old pace, but each brings it down to the files the server still holds, which is
    what it took. ``limit`` successes in a row (``SUCCESS_RUN`` at least) raise it by one, up to
    ``ceiling``.
    """

    ceiling: int
    """The most files in flight: the batch's ``concurrency``."""
    limit: int = attrs.field()
    """The files in flight allowed now."""
    hold_until: float = 0.0
    """A monotonic time before which no new file starts."""
    next_slowdown: float = 0.0
    """A monotonic time before which a 429 does not lower the limit again: the answers to the
    files sent before the last slowdown."""
    streak: int = 0
    """Successes since the last change of ``limit``."""
    slowdowns: int = 0
    """How many times the limit was lowered."""

    @limit.default
    def _full(self) -> int:
        return self.ceiling

    def rate_limited(self, delay: float | None, now: float, in_flight: int) -> None:
        """Records an answer asking to slow down.

        Args:
            delay: the wait the server asked for, in seconds; None if it named none.
            now: the monotonic time.
            in_flight: the files still in flight, the refused one and those waiting to send
                again left out.
        """
        wait = DEFAULT_HOLD if delay is None or delay <= 0 else max(delay, MIN_HOLD)
        if now >= self.next_slowdown:
            self.limit = max(1, self.limit // 2)
            self.slowdowns += 1
            self.next_slowdown = now + wait
        self.limit = max(1, min(self.limit, in_flight))
        self.hold_until = max(self.hold_until, now + wait)
        self.streak = 0

    def succeeded(self) -> None:
        """Records a file sent without trouble; a run of them raises the limit by one."""
        self.streak += 1
        if self.streak >= max(self.limit, SUCCESS_RUN) and self.limit < self.ceiling:
            self.limit += 1
            self.streak = 0

    def wait(self, in_flight: int, now: float) -> float | None:
        """Seconds to wait before a new file may start (0: now), or None until one ends."""
        if in_flight >= self.limit:
            return None
        return max(0.0, self.hold_until - now)
