"""Helpers of the server tests: a fake clock, a server that uses it, and a look at the disk."""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable, Iterator

import openai
import pytest

from aikit_files.server import ServerThread

API_KEY = "sk-test-server"
API_VERSION = "2024-10-21"


class FakeClock:
    """A wall clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def data_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: pathlib.Path, clock: FakeClock) -> Iterator[ServerThread]:
    """A server on a fake clock (every file is created in the same second until it moves),
    with small limits so that oversize bodies stay small, and a short Azure lifecycle."""
    with ServerThread(
        data_dir,
        api_key=API_KEY,
        clock=clock,
        file_limit=1024 * 1024,
        batch_file_limit=512 * 1024,
        part_limit=256 * 1024,
        upload_limit=1024 * 1024,
        processing_delay=10.0,
    ) as running:
        yield running


@pytest.fixture
def client(server: ServerThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.openai_base_url, api_key=API_KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def azure(server: ServerThread) -> Iterator[openai.AzureOpenAI]:
    with openai.AzureOpenAI(
        azure_endpoint=server.azure_endpoint,
        api_key=API_KEY,
        api_version=API_VERSION,
        max_retries=0,
    ) as sdk:
        yield sdk


def disk(data_dir: pathlib.Path) -> set[str]:
    """Every path under the data directory, relative to it."""
    return {str(path.relative_to(data_dir)) for path in data_dir.rglob("*")}


def eventually(check: Callable[[], bool], what: str) -> None:
    """Waits (a bounded number of short sleeps) until ``check()`` holds."""
    for _ in range(500):
        if check():
            return
        time.sleep(0.01)
    raise AssertionError(f"never happened: {what}")
