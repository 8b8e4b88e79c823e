"""The rules and the record of a ``FaultProxy``: which request gets which fault, and what became
of each request (``Exchange``), shared by the caller's threads and the proxy's loop."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import attrs

from ._faults import Fault, Rule


@attrs.frozen
class Exchange:
    """One request the proxy received, and what became of it."""

    ordinal: int
    """The request's number among all the requests the proxy received, from 1."""
    method: str
    """The request's method."""
    path: str
    """The request target: the path and the query, as sent."""
    fault: Fault | None
    """The fault applied, or None if the request was forwarded as is."""
    request_bytes: int = 0
    """How many bytes of the request body the proxy received from the client."""
    forwarded: bool = False
    """Whether the request was sent to the upstream."""
    upstream_status: int | None = None
    """The status the upstream answered, or None if it did not answer."""
    status: int | None = None
    """The status sent to the client, or None if it got no status line."""


@attrs.define
class _Armed:
    """A rule, and how many requests have matched its method and path so far."""

    rule: Rule
    seen: int = 0


class Ledger:
    """The rules and the exchanges, shared by the caller's threads and the proxy's loop."""

    def __init__(self, rules: Iterable[Rule]):
        self._lock = threading.Lock()
        self._armed = [_Armed(_checked(rule)) for rule in rules]
        self._exchanges: list[Exchange] = []

    def add(self, rule: Rule) -> None:
        with self._lock:
            self._armed.append(_Armed(_checked(rule)))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def rules(self) -> tuple[Rule, ...]:
        with self._lock:
            return tuple(armed.rule for armed in self._armed)

    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def open(self, method: str, target: str) -> Flight:
        """Records a new request, and picks its fault."""
        with self._lock:
            fault: Fault | None = None
            # NOTE: every rule that matches counts the request, even when an earlier rule
            # applies, so that an ordinal means "the n-th such request" whatever the other
            # rules do.
            for armed in self._armed:
                if armed.rule.matches(method, target):
                    armed.seen += 1
                    chosen = armed.rule.ordinal is None or armed.seen in armed.rule.ordinal
                    if fault is None and chosen:
                        fault = armed.rule.fault
            index = len(self._exchanges)
            self._exchanges.append(Exchange(index + 1, method, target, fault))
        return Flight(self, index, fault)

    def update(self, index: int, **changes: Any) -> None:
        with self._lock:
            self._exchanges[index] = attrs.evolve(self._exchanges[index], **changes)

    def count(self, index: int, size: int) -> None:
        """Adds ``size`` bytes to what the request's body brought."""
        with self._lock:
            exchange = self._exchanges[index]
            self._exchanges[index] = attrs.evolve(
                exchange, request_bytes=exchange.request_bytes + size
            )


def _checked(rule: Rule) -> Rule:
    if not isinstance(rule, Rule):
        raise TypeError(f"a rule must be a Rule, not {type(rule).__name__}")
    return rule


@attrs.define
class Flight:
    """The handle of one exchange in the ledger, through which its handler records it.

    Each change is recorded before the client can see its effect, so that a test that has
    seen the effect finds it in ``exchanges``.
    """

    ledger: Ledger
    index: int
    fault: Fault | None
    """The fault picked for it when it was recorded."""

    def received(self, size: int) -> None:
        self.ledger.count(self.index, size)

    def forwarded(self) -> None:
        self.ledger.update(self.index, forwarded=True)

    def upstream_answered(self, status: int) -> None:
        self.ledger.update(self.index, upstream_status=status)

    def answered(self, status: int) -> None:
        self.ledger.update(self.index, status=status)
