"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from hypothesis import settings

from aikit_files.server import ServerThread
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
