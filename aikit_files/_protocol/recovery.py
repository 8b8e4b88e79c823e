"""After a failed attempt: was the request sent whole, may it be sent again, and what to do once
the lookup for what it made has answered. Pure decisions; the lookups are ``_recovery``'s.

A request that reached the server whole and then lost its answer (a reset, a timeout, a closed
connection) may have been carried out. Before it is sent again, what it would have made (a
file, a deletion, a completed Upload) is looked for; ``after_lookup`` says what the lookup's
outcome means.
"""

from __future__ import annotations

import enum
from typing import Final

#: Methods whose request, carried out twice, does no more than once (RFC 9110, 9.2.2).
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


def is_idempotent(method: str) -> bool:
    """Whether a request with this method may be carried out twice without harm."""
    return method.upper() in IDEMPOTENT_METHODS


def sent_whole(*, connected: bool, body_complete: bool) -> bool:
    """Whether an attempt handed its whole request to the connection, so that the server may
    have carried it out.

    Args:
        connected: a connection was made (a failure to connect sent nothing).
        body_complete: the whole body was written; true for a body sent in one write with the
            head (JSON, or none).
    """
    return connected and body_complete


def may_send_again(*, replayable: bool, started: bool) -> bool:
    """Whether a body can be sent again from its start: its source can be read again (a path,
    a blob, a seekable file object), or no attempt began reading it (a stream)."""
    return replayable or not started


def must_look(*, retryable: bool, sent_whole: bool, can_look: bool) -> bool:
    """Whether the failed attempt's outcome is looked for before anything is sent again: the
    failure is one that would be retried, the request was sent whole, and the call has a
    lookup for what it makes."""
    return retryable and sent_whole and can_look


class AfterLookup(enum.Enum):
    """What a call does once the lookup after a lost answer has answered."""

    FOUND = "found"
    """The request had done its work: what was found is the call's answer."""
    SEND_AGAIN = "send again"
    """Nothing shows it did: the request may be sent again (as the retry policy says)."""
    GIVE_UP = "give up"
    """Nothing shows it did, but it may yet: the call fails, saying to check first."""


def after_lookup(*, found: bool, timed_out: bool, idempotent: bool) -> AfterLookup:
    """What the lookup's outcome means.

    Args:
        found: the lookup found what the request would have made.
        timed_out: the attempt ended on a time limit (rather than a broken connection).
        idempotent: carrying the request out twice does no more than once.
    """
    if found:
        return AfterLookup.FOUND
    if timed_out and not idempotent:
        # NOTE: after a timeout, finding nothing proves nothing: the request may still be on its
        # way or under way (a slow server, a proxy that holds it), and sent again, be done twice.
        return AfterLookup.GIVE_UP
    return AfterLookup.SEND_AGAIN


def lookup_failed(message: str, lookup_error: object) -> str:
    """The message of a call whose request may have been carried out, and whose lookup failed."""
    return (
        f"{message}; the request was sent whole before the connection failed, so the server "
        f"may have carried it out, and looking for its outcome failed too ({lookup_error}): "
        "check before sending it again"
    )


def unsure(message: str) -> str:
    """The message of a call that gave up after a timeout (``AfterLookup.GIVE_UP``)."""
    return (
        f"{message}; the request was sent whole and no answer came in time, so the server may "
        "have carried it out, or may yet, though nothing shows it so far: check before sending "
        "it again"
    )
