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


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 415, 422])
def test_final_statuses(status: int) -> None:
    assert not RetryPolicy().should_retry_status(status, {})


def test_x_should_retry_overrides_the_status() -> None:
    policy = RetryPolicy()
    assert policy.should_retry_status(400, {"X-Should-Retry": "true"})
    assert not policy.should_retry_status(503, {"x-should-retry": "false"})


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


def test_server_delay_is_honoured() -> None:
    assert RetryPolicy().delay(0, {"retry-after-ms": "10"}, now=NOW, rand=0.5) == 0.01


def test_too_long_a_server_delay_means_no_retry() -> None:
    assert RetryPolicy().delay(0, {"retry-after": "600"}, now=NOW, rand=0.5) is None


def test_past_or_zero_server_delay_falls_back_to_backoff() -> None:
    assert RetryPolicy().delay(0, {"retry-after": "0"}, now=NOW, rand=0.0) == 0.5


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
