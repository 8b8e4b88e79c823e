"""The retry policy: which failures are retried, and how long to wait before the next attempt."""

from __future__ import annotations

import email.utils
import math
from collections.abc import Mapping

import attrs

from .responses import header

#: Statuses retried besides every 5xx: request timeout, conflict (lock contention), rate limit.
RETRY_STATUSES = frozenset({408, 409, 429})


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """The delay the server asked for, in seconds, or None if it asked for none we can read.

    ``retry-after-ms`` (milliseconds) comes first, then ``Retry-After`` as seconds or as an
    HTTP-date.

    Args:
        headers: the response's headers.
        now: the current Unix time, to turn an HTTP-date into a delay.
    """
    milliseconds = header(headers, "retry-after-ms")
    if milliseconds is not None:
        try:
            return _finite(float(milliseconds) / 1000)
        except ValueError:
            pass
    value = header(headers, "retry-after")
    if value is None:
        return None
    try:
        return _finite(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - now


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@attrs.frozen
class RetryPolicy:
    """When and how long to wait before retrying a failed attempt."""

    max_retries: int = 2
    """Retries after the first attempt."""
    initial_delay: float = 0.5
    """Backoff before the first retry; it doubles with each retry."""
    max_delay: float = 8.0
    """Cap of the backoff."""
    jitter: float = 0.25
    """Up to this fraction of the backoff is taken off at random, to spread retrying clients."""
    max_retry_after: float = 120.0
    """A server asking for a longer wait is not retried: the error goes to the caller at once."""

    def should_retry_status(self, status: int, headers: Mapping[str, str]) -> bool:
        """Whether a response with this status is worth another attempt.

        ``x-should-retry: true|false`` from the server overrides the status.
        """
        verdict = header(headers, "x-should-retry")
        if verdict == "true":
            return True
        if verdict == "false":
            return False
        # NOTE: 507 (the server's storage is full) is final, as a 4xx: the same upload again
        # cannot fit, and would only send the whole file once more.
        return status in RETRY_STATUSES or (status >= 500 and status != 507)

    def delay(
        self,
        retries_taken: int,
        headers: Mapping[str, str] | None,
        *,
        now: float,
        rand: float,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None if there must be none.

        Args:
            retries_taken: retries already made (0 before the first retry).
            headers: the failed response's headers; None when no response came.
            now: the current Unix time (for a ``Retry-After`` HTTP-date).
            rand: a number in [0, 1) that sets the jitter.
        """
        if retries_taken >= self.max_retries:
            return None
        if headers is not None:
            asked = retry_after(headers, now)
            if asked is not None and asked > self.max_retry_after:
                return None
            if asked is not None and asked > 0:
                return asked
        backoff = min(self.initial_delay * 2.0**retries_taken, self.max_delay)
        return backoff * (1 - self.jitter * rand)
