"""The decisions after a failed attempt (``_protocol.recovery``), without I/O: sent whole, sent
again, looked for, and what the lookup's outcome means."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aikit_files._protocol.recovery import (
    AfterLookup,
    after_lookup,
    is_idempotent,
    lookup_failed,
    may_send_again,
    must_look,
    sent_whole,
    unsure,
)


@pytest.mark.parametrize("method", ["GET", "get", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"])
def test_idempotent_methods(method: str) -> None:
    assert is_idempotent(method)


@pytest.mark.parametrize("method", ["POST", "PATCH", "CONNECT", ""])
def test_methods_that_must_not_run_twice(method: str) -> None:
    assert not is_idempotent(method)


@given(connected=st.booleans(), body_complete=st.booleans())
def test_a_request_is_sent_whole_only_over_a_connection_with_its_whole_body(
    connected: bool, body_complete: bool
) -> None:
    assert sent_whole(connected=connected, body_complete=body_complete) == (
        connected and body_complete
    )


@given(replayable=st.booleans(), started=st.booleans())
def test_a_body_is_sent_again_when_it_can_be_read_again_or_was_never_read(
    replayable: bool, started: bool
) -> None:
    assert may_send_again(replayable=replayable, started=started) == (replayable or not started)


@given(retryable=st.booleans(), whole=st.booleans(), can_look=st.booleans())
def test_a_lookup_runs_only_for_a_retryable_failure_of_a_request_sent_whole(
    retryable: bool, whole: bool, can_look: bool
) -> None:
    looks = must_look(retryable=retryable, sent_whole=whole, can_look=can_look)
    assert looks == (retryable and whole and can_look)


@given(timed_out=st.booleans(), idempotent=st.booleans())
def test_what_was_found_is_the_answer(timed_out: bool, idempotent: bool) -> None:
    assert after_lookup(found=True, timed_out=timed_out, idempotent=idempotent) is (
        AfterLookup.FOUND
    )


@given(found=st.booleans(), timed_out=st.booleans(), idempotent=st.booleans())
def test_a_request_that_must_not_run_twice_is_never_sent_again_after_a_timeout(
    found: bool, timed_out: bool, idempotent: bool
) -> None:
    verdict = after_lookup(found=found, timed_out=timed_out, idempotent=idempotent)
    if timed_out and not idempotent:
        assert verdict is not AfterLookup.SEND_AGAIN
    if verdict is AfterLookup.GIVE_UP:
        assert timed_out
        assert not idempotent
        assert not found


def test_after_a_broken_connection_nothing_found_means_send_again() -> None:
    # The connection broke: the server answered nothing, and has nothing; sending again is safe.
    assert after_lookup(found=False, timed_out=False, idempotent=False) is AfterLookup.SEND_AGAIN
    assert after_lookup(found=False, timed_out=True, idempotent=True) is AfterLookup.SEND_AGAIN


def test_the_messages_say_to_check_before_sending_again() -> None:
    assert lookup_failed("reset", "HTTP 500").startswith("reset; ")
    assert "(HTTP 500)" in lookup_failed("reset", "HTTP 500")
    assert "may have carried it out" in unsure("timed out")
    assert unsure("timed out").endswith("check before sending it again")
