"""Fixtures shared by the whole suite."""

from __future__ import annotations

import functools
import pathlib
import signal
import threading
from collections.abc import Iterator

import pytest
from hypothesis import settings
from origins import jsonl_origin

from aikit_files import _transport
from aikit_files._protocol.retry import RetryPolicy
from aikit_files.server import ServerThread
from aikit_files.server._runner import AppThread
from aikit_files.testing import FaultProxy

# NOTE: tests assert behaviour, not timings: an example that takes over Hypothesis' default
# 200 ms on a busy machine (or under mutmut's workers) must not fail the suite.
settings.register_profile("aikit", deadline=None)
settings.load_profile("aikit")

#: The key the ``local_server`` fixture accepts.
TEST_API_KEY = "sk-test-local"


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``@pytest.mark.anyio``) run on asyncio, the loop aikit_files targets."""
    return "asyncio"


@pytest.fixture(autouse=True)
def quick_backoff(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The clients a test makes in this process wait 1 to 10 ms between attempts, not 0.5 to 8 s.

    Every test but those marked ``real_backoff`` runs so: the attempts a call makes, what each
    sends and what it ends in are the policy's (the same ``max_retries``, statuses, jitter and
    ``Retry-After`` handling); only the backoff's scale is the test's, so that a suite full of
    faults does not spend a minute asleep. The policy's own arithmetic is tested in
    ``tests/client/test_protocol_retry.py``, on ``RetryPolicy`` itself.
    """
    if request.node.get_closest_marker("real_backoff") is None:
        # NOTE: the one place a client makes its policy; raising=True (the default) makes this
        # fixture fail loudly, not silently stop working, if that place moves.
        monkeypatch.setattr(
            _transport,
            "RetryPolicy",
            functools.partial(RetryPolicy, initial_delay=0.001, max_delay=0.01),
        )


@pytest.fixture(autouse=True)
def own_cache(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's resume journals (``$XDG_CACHE_HOME/aikit_files``) go under its own
    ``tmp_path``, for its subprocesses too: never into the user's ``~/.cache``, which tests
    running in parallel, and the user's own uploads, share."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(autouse=True)
def interruptible_children() -> Iterator[None]:
    """The subprocesses a test starts take SIGINT as from a terminal, even when the suite runs
    with SIGINT ignored (a background job of a script, ``nohup``, some CI runners).

    A child inherits an ignored SIGINT, and Python then leaves it ignored (as it should: that
    is how a shell keeps Ctrl-C from its background jobs), so a test that interrupts a command
    would wait on it forever. With a handler here, the child starts with SIGINT at its default.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
    ):
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture
def local_server(tmp_path: pathlib.Path) -> Iterator[ServerThread]:
    """The local Files API server on loopback, keeping its files under ``tmp_path / "data"``,
    accepting only ``TEST_API_KEY``."""
    with ServerThread(tmp_path / "data", api_key=TEST_API_KEY) as server:
        yield server


@pytest.fixture
def proxy(local_server: ServerThread) -> Iterator[FaultProxy]:
    """A fault proxy in front of the local server, with no rule yet."""
    with FaultProxy(local_server.url) as running:
        yield running


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fresh-venv tests first (after pytest-randomly's shuffle): they wait about a minute on
    the package index, which the other workers fill; started last, they would end the run."""
    items.sort(key=lambda item: item.get_closest_marker("venv") is None)


@pytest.fixture
def origin() -> Iterator[AppThread]:
    """An origin for ``files/import``: a loopback server of ``origins.JSONL``."""
    with jsonl_origin() as running:
        yield running
