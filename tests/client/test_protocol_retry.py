"""The retry policy: retried statuses, server-requested delays, bounded backoff; pure."""

from __future__ import annotations

import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aikit_files._protocol.retry import RetryPolicy, retry_after

NOW = 1_700_000_000.0


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 599])
def test_retried_statuses(status: int) -> None:
    assert RetryPolicy().should_retry_status(status, {})


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 415, 422, 507])
def test_final_statuses(status: int) -> None:
    assert not RetryPolicy().should_retry_status(status, {})


def test_x_should_retry_overrides_the_status() -> None:
    policy = RetryPolicy()
    assert policy.should_retry_status(400, {"X-Should-Retry": "true"})
    assert not policy.should_retry_status(503, {"x-should-retry": "false"})


@pytest.mark.parametrize("value", ["", "True", "FALSE", "1", "0", "yes", "no", " true"])
def test_other_x_should_retry_values_leave_it_to_the_status(value: str) -> None:
    # As in openai-python: only the exact words "true" and "false" are the server's verdict.
    policy = RetryPolicy()
    assert policy.should_retry_status(503, {"x-should-retry": value})
    assert policy.should_retry_status(429, {"x-should-retry": value})
    assert not policy.should_retry_status(400, {"x-should-retry": value})


def test_retry_after_ms_comes_first() -> None:
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}, NOW) == 0.25


def test_retry_after_seconds() -> None:
    assert retry_after({"Retry-After": "2"}, NOW) == 2.0
    assert retry_after({"retry-after": "1.5"}, NOW) == 1.5


def test_retry_after_http_date() -> None:
    date = email.utils.formatdate(NOW + 30, usegmt=True)
    assert retry_after({"Retry-After": date}, NOW) == pytest.approx(30)


@pytest.mark.parametrize("value", ["soon", "", "inf", "nan"])
def test_unreadable_retry_after(value: str) -> None:
    assert retry_after({"retry-after": value}, NOW) is None
    assert retry_after({"retry-after-ms": value}, NOW) is None


@pytest.mark.parametrize("value", ["soon", "", "1e3ms"])
def test_an_unreadable_retry_after_ms_falls_back_to_retry_after(value: str) -> None:
    assert retry_after({"retry-after-ms": value, "Retry-After": "3"}, NOW) == 3.0


def test_header_names_are_read_in_any_case() -> None:
    assert retry_after({"Retry-After-Ms": "1500"}, NOW) == 1.5
    assert retry_after({"RETRY-AFTER": "4"}, NOW) == 4.0


def test_server_delay_is_honoured() -> None:
    assert RetryPolicy().delay(0, {"retry-after-ms": "10"}, now=NOW, rand=0.5) == 0.01


def test_too_long_a_server_delay_means_no_retry() -> None:
    assert RetryPolicy().delay(0, {"retry-after": "600"}, now=NOW, rand=0.5) is None


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({"retry-after": "120"}, 120.0),
        ({"retry-after": "120.001"}, None),
        ({"retry-after-ms": "120000"}, 120.0),
        ({"retry-after-ms": "120001"}, None),
    ],
)
def test_the_longest_server_delay_waited_for_is_120_s(
    headers: dict[str, str], delay: float | None
) -> None:
    assert RetryPolicy().max_retry_after == 120.0
    assert RetryPolicy().delay(0, headers, now=NOW, rand=0.5) == delay


def test_the_cap_on_server_delays_can_be_set() -> None:
    policy = RetryPolicy(max_retry_after=5.0)
    assert policy.delay(0, {"retry-after": "5"}, now=NOW, rand=0.5) == 5.0
    assert policy.delay(0, {"retry-after": "5.5"}, now=NOW, rand=0.5) is None


def test_an_http_date_sets_the_delay() -> None:
    date = email.utils.formatdate(NOW + 30, usegmt=True)
    delay = RetryPolicy().delay(0, {"Retry-After": date}, now=NOW, rand=0.5)
    assert delay == pytest.approx(30)


def test_an_http_date_too_far_ahead_means_no_retry() -> None:
    date = email.utils.formatdate(NOW + 121, usegmt=True)
    assert RetryPolicy().delay(0, {"Retry-After": date}, now=NOW, rand=0.5) is None
    date = email.utils.formatdate(NOW + 120, usegmt=True)
    assert RetryPolicy().delay(0, {"Retry-After": date}, now=NOW, rand=0.5) == pytest.approx(120)


def test_an_http_date_in_the_past_falls_back_to_backoff() -> None:
    date = email.utils.formatdate(NOW - 30, usegmt=True)
    assert retry_after({"Retry-After": date}, NOW) == pytest.approx(-30)
    assert RetryPolicy().delay(1, {"Retry-After": date}, now=NOW, rand=0.0) == 1.0


def test_past_or_zero_server_delay_falls_back_to_backoff() -> None:
    assert RetryPolicy().delay(0, {"retry-after": "0"}, now=NOW, rand=0.0) == 0.5
    assert RetryPolicy().delay(0, {"retry-after": "-2"}, now=NOW, rand=0.0) == 0.5
    assert RetryPolicy().delay(0, {"retry-after-ms": "0"}, now=NOW, rand=0.0) == 0.5


def test_an_unreadable_server_delay_falls_back_to_backoff() -> None:
    policy = RetryPolicy()
    assert policy.delay(0, {"retry-after": "soon"}, now=NOW, rand=0.0) == 0.5
    assert policy.delay(2, {"retry-after-ms": "nan"}, now=NOW, rand=1.0) is None
    assert RetryPolicy(max_retries=3).delay(2, {"retry-after": ""}, now=NOW, rand=0.0) == 2.0


def test_jitter_takes_off_at_most_its_fraction() -> None:
    policy = RetryPolicy(max_retries=5, initial_delay=1.0, jitter=0.5)
    assert policy.delay(0, None, now=NOW, rand=0.0) == 1.0
    assert policy.delay(0, None, now=NOW, rand=0.5) == 0.75
    assert policy.delay(1, None, now=NOW, rand=0.999) == pytest.approx(1.001)
    assert RetryPolicy(jitter=0.0).delay(0, None, now=NOW, rand=0.9) == 0.5


def test_no_delay_once_retries_are_spent() -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.delay(1, None, now=NOW, rand=0.0) is not None
    assert policy.delay(2, None, now=NOW, rand=0.0) is None
    assert RetryPolicy(max_retries=0).delay(0, None, now=NOW, rand=0.0) is None


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(max_retries=10)
    delays = [policy.delay(n, None, now=NOW, rand=0.0) for n in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


@given(retries=st.integers(0, 50), rand=st.floats(0, 1, exclude_max=True))
def test_backoff_stays_within_bounds(retries: int, rand: float) -> None:
    policy = RetryPolicy(max_retries=100)
    delay = policy.delay(retries, {}, now=NOW, rand=rand)
    assert delay is not None
    nominal = min(policy.initial_delay * 2**retries, policy.max_delay)
    assert nominal * (1 - policy.jitter) <= delay <= nominal
