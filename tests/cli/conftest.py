"""Helpers of the command line's tests: a local server (that imports from loopback), the
environment pointing at it, ``main`` run in-process, and a sync client to see what the server
holds."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Iterator

import attrs
import pytest

import aikit_files as af
from aikit_files.cli import main
from aikit_files.server import ServerThread

#: The key the server accepts; no output of the command line may ever hold it.
KEY = "sk-cli-test-Q7wz3Lp9"
#: The largest file the test server's ``POST /files`` takes, so that one can fail alone.
FILE_LIMIT = 4 * 1024 * 1024
#: The settings the command line reads from the environment; each test sets its own.
VARIABLES = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "OPENAI_API_VERSION",
    "AIKIT_FILES_API_KEY",
)


@attrs.frozen
class Run:
    """What one run of the command line did."""

    status: int
    out: str
    err: str

    @property
    def error_line(self) -> str:
        """The one line on stderr (the test fails if there is not exactly one)."""
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("aikit-files"), lines[0]
        return lines[0]


@pytest.fixture
def server(tmp_path: pathlib.Path) -> Iterator[ServerThread]:
    """The local server, accepting only ``KEY``, importing from loopback, processing Azure
    files in 0.2 s, taking files up to ``FILE_LIMIT``."""
    with ServerThread(
        tmp_path / "data",
        api_key=KEY,
        allow_private_import=True,
        processing_delay=0.2,
        file_limit=FILE_LIMIT,
    ) as running:
        yield running


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    """No setting of the environment reaches the command line but those a test sets."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def env(server: ServerThread, clean_env: None, monkeypatch: pytest.MonkeyPatch) -> ServerThread:
    """The environment pointing the command line at ``server``, as a user would set it."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.azure_endpoint)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    return server


def environment(server: ServerThread | None = None) -> dict[str, str]:
    """The environment of a command run in a process of its own: this one's, without the
    settings a test did not choose, pointing at ``server`` when given."""
    variables = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    if server is not None:
        variables |= {"OPENAI_BASE_URL": server.openai_base_url, "OPENAI_API_KEY": KEY}
    return variables


def check_run(status: int, out: str, err: str) -> Run:
    """A run's outcome, after the checks every run must pass: no traceback, no key."""
    assert "Traceback" not in err
    assert KEY not in out
    assert KEY not in err
    return Run(status, out, err)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Runs ``aikit-files ARGS...`` in-process."""

    def run(*argv: str | os.PathLike[str]) -> Run:
        status = main([os.fspath(arg) for arg in argv])
        captured = capsys.readouterr()
        return check_run(status, captured.out, captured.err)

    return run


@pytest.fixture
def api(server: ServerThread) -> Iterator[af.Client]:
    """A client of ``server``, to see what it holds."""
    with af.Client(KEY, base_url=server.openai_base_url, max_retries=0) as client:
        yield client


@pytest.fixture
def make_file(tmp_path: pathlib.Path) -> Callable[..., pathlib.Path]:
    """Writes a file under ``tmp_path``: ``make_file(name, data)``."""

    def make(name: str, data: bytes | str = b"hello\n") -> pathlib.Path:
        path = tmp_path / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    return make
