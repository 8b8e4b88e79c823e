"""The faults a ``FaultProxy`` injects, and the rules that choose which request gets which."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any, Literal, TypeAlias

import attrs


def _count(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{attribute.name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{attribute.name} must be 0 or more, got {value}")


def _seconds(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{attribute.name} must be a number of seconds, not {type(value).__name__}")
    if math.isnan(value) or value < 0:
        raise ValueError(f"{attribute.name} must be 0 or more seconds, got {value}")


@attrs.frozen
class Reset:
    """Reads the first ``after_bytes`` of the request body, forwards nothing, then resets the
    connection (a TCP RST): the client sees a connection reset and no response."""

    after_bytes: int = attrs.field(default=0, validator=_count)
    """How many bytes of the request body to read before the reset."""


def _status(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"status must be an int, not {type(value).__name__}")
    if not 200 <= value <= 599:
        raise ValueError(f"status must be a final HTTP status (200 to 599), got {value}")


def _retry_after(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None or isinstance(value, str):
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"{attribute.name} must be a number, a string or None, not {type(value).__name__}"
        )
    if math.isnan(value) or value < 0:
        raise ValueError(f"{attribute.name} must be 0 or more, got {value}")


def _header_pairs(headers: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return () if headers is None else tuple((str(k), str(v)) for k, v in headers.items())


@attrs.frozen
class Respond:
    """Answers ``status`` without forwarding the request.

    The request body is read and discarded first, so that a client still sending (an upload)
    sees the answer rather than a broken connection; a client waiting for ``100 Continue`` is
    answered at once, and the connection closed.
    """

    status: int = attrs.field(validator=_status)
    """The status of the answer."""
    retry_after: float | str | None = attrs.field(
        default=None, kw_only=True, validator=_retry_after
    )
    """The ``Retry-After`` header: seconds (a number), or the header's text as is."""
    retry_after_ms: int | None = attrs.field(default=None, kw_only=True, validator=_retry_after)
    """The ``retry-after-ms`` header (OpenAI's), in milliseconds."""
    body: bytes | None = attrs.field(default=None, kw_only=True)
    """The body; None sends an OpenAI error envelope (``{"error": {...}}``) as JSON."""
    headers: tuple[tuple[str, str], ...] = attrs.field(
        default=None, kw_only=True, converter=_header_pairs
    )
    """More headers of the answer (given as a mapping); they win over the ones set above."""


@attrs.frozen
class Delay:
    """Waits ``seconds`` before forwarding the request as usual."""

    seconds: float = attrs.field(validator=_seconds)
    """How long to wait."""


@attrs.frozen
class Stall:
    """Stops the flow of a body for a while, or until the client gives up.

    With ``where="response"``, the request is forwarded, and the client gets the response's
    status, headers and first ``after_bytes`` bytes of its body, then nothing more for a while
    (a shorter body is sent whole, and its end held back). With ``where="request"``, the
    request is forwarded, but the proxy stops reading its body after ``after_bytes`` bytes:
    once the socket buffers fill (a few MiB on loopback), the client's writes block and its
    write timeout fires. A request without a body, or with no more than ``after_bytes``, is
    not held.
    """

    after_bytes: int = attrs.field(default=0, validator=_count)
    """How many bytes of the body get through before the stall."""
    seconds: float | None = attrs.field(
        default=None, kw_only=True, validator=attrs.validators.optional(_seconds)
    )
    """How long the stall lasts before the body flows again; None: until the client gives up
    (or the proxy closes)."""
    where: Literal["response", "request"] = attrs.field(
        default="response",
        kw_only=True,
        validator=attrs.validators.in_(("response", "request")),
    )
    """Which body stalls."""


@attrs.frozen
class Truncate:
    """Forwards the request, then sends the response's status and headers (its
    ``Content-Length`` kept) and only the first ``after_bytes`` of its body, and closes the
    connection: the client sees a body cut short.

    A body no longer than ``after_bytes`` is sent whole before the close (a chunked one then
    lacks only its last, empty chunk).
    """

    after_bytes: int = attrs.field(default=0, validator=_count)
    """How many bytes of the response body the client gets."""


@attrs.frozen
class LoseResponse:
    """Forwards the whole request and reads the upstream's whole response (so the upstream
    really handled it: a file is stored), then closes the client's connection without sending
    a byte of the response."""


#: One of the faults a ``Rule`` applies.
Fault: TypeAlias = Reset | Respond | Delay | Stall | Truncate | LoseResponse


def _fault(instance: object, attribute: attrs.Attribute[Fault], value: object) -> None:
    if not isinstance(value, Fault):
        raise TypeError(
            "fault must be Reset, Respond, Delay, Stall, Truncate or LoseResponse, "
            f"not {type(value).__name__}"
        )


def _method(method: str | None) -> str | None:
    if method is None:
        return None
    if not isinstance(method, str) or not method:
        raise TypeError(f"method must be a non-empty str or None, not {method!r}")
    return method.upper()


def _ordinals(ordinal: int | Collection[int] | None) -> frozenset[int] | None:
    if ordinal is None:
        return None
    values = (ordinal,) if isinstance(ordinal, int) else tuple(ordinal)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"ordinal must be an int or a collection of ints, not {ordinal!r}")
        if value < 1:
            raise ValueError(f"ordinals count from 1, got {value}")
    if not values:
        raise ValueError("ordinal must not be an empty collection (it would match nothing)")
    return frozenset(values)


def _path(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"path must be a str or None, not {type(value).__name__}")


@attrs.frozen
class Rule:
    """Applies ``fault`` to the requests it selects.

    A request is selected when its method is ``method`` (any method if None; case does not
    matter), its target (path and query, as sent) starts with ``path`` (any if None), and its
    number among the requests that matched this ``method`` and ``path`` is in ``ordinal``
    (any if None). The proxy counts those requests for each rule from the moment the rule is
    added, whichever rule applies to them: with ``ordinal=1`` a rule applies to the first such
    request only, with ``{2, 3}`` to the second and third. The first rule that selects a
    request applies; a request no rule selects is forwarded as is.
    """

    fault: Fault = attrs.field(validator=_fault)
    """What to do with a selected request."""
    method: str | None = attrs.field(default=None, kw_only=True, converter=_method)
    """The method (upper case), or None for any."""
    path: str | None = attrs.field(default=None, kw_only=True, validator=_path)
    """A prefix of the request target (e.g. ``/v1/files``), or None for any."""
    ordinal: frozenset[int] | None = attrs.field(default=None, kw_only=True, converter=_ordinals)
    """Which of the matching requests, counting from 1, or None for all of them."""

    def matches(self, method: str, target: str) -> bool:
        """Whether a request with this method and target counts for this rule (its ordinal
        aside)."""
        return (self.method is None or self.method == method.upper()) and (
            self.path is None or target.startswith(self.path)
        )
