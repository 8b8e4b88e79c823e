"""What a terminal shows (progress bars, a table) and what it shows without rich; and the pure
formatting helpers."""

from __future__ import annotations

import json
import pathlib
import re
import sys
from collections.abc import Callable

import pytest

import aikit_files as af
from aikit_files.cli import _output
from aikit_files.cli._output import size, when

from .conftest import Run

Cli = Callable[..., Run]
MakeFile = Callable[..., pathlib.Path]

#: What rich draws a progress bar with.
BAR = "━"


def drawn(err: str) -> list[str]:
    """The lines a terminal showed, in order, without the escape sequences."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err)
    return [line for line in re.split(r"[\r\n]", plain) if line.strip()]


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdout and stderr are terminals (rich is then told to draw as on one)."""
    monkeypatch.setattr(_output, "is_terminal", lambda stream: True)


@pytest.fixture
def no_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich cannot be imported, as where the ``cli`` extra is not installed."""
    for name in [name for name in sys.modules if name == "rich" or name.startswith("rich.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "rich", None)


@pytest.mark.usefixtures("env", "terminal")
def test_an_upload_draws_a_bar_with_bytes_rate_and_time_left(
    cli: Cli, api: af.Client, make_file: MakeFile
) -> None:
    path = make_file("big.bin", b"\0" * (3 * 1024 * 1024))
    run = cli("upload", path, "--purpose", "user_data")
    assert run.status == 0
    (file,) = api.files.list().data
    assert run.out == f"uploaded {path} as {file.id} (3.0 MiB, user_data)\n"
    assert BAR in run.err
    assert "big.bin" in run.err
    assert "3.0/3.0 MiB" in run.err
    assert re.search(r"[0-9.]+ [KMG]iB/s", run.err)
    assert "0:00:00" in run.err


@pytest.mark.usefixtures("env", "terminal")
def test_one_bar_per_file_and_for_a_download(
    cli: Cli, make_file: MakeFile, tmp_path: pathlib.Path
) -> None:
    paths = [make_file(f"file-{i}.txt", b"x" * (100_000 * (i + 1))) for i in range(3)]
    run = cli("upload", *paths, "--purpose", "user_data", "--concurrency", "2")
    assert run.status == 0
    final = drawn(run.err)[-3:]  # the last drawing: one line a file, each full
    assert [line.split()[0] for line in final] == ["file-0.txt", "file-1.txt", "file-2.txt"]
    assert [line.split()[2] for line in final] == ["97.7/97.7", "195.3/195.3", "293.0/293.0"]
    file_id = run.out.split()[3]
    run = cli("download", file_id, tmp_path / "copy.txt")
    assert run.status == 0
    assert BAR in run.err
    assert "copy.txt" in run.err


@pytest.mark.usefixtures("env", "terminal")
def test_json_and_quiet_draw_nothing_on_a_terminal(cli: Cli, make_file: MakeFile) -> None:
    path = make_file("a.txt", b"x" * 100_000)
    run = cli("--json", "upload", path, "--purpose", "user_data")
    assert json.loads(run.out)["bytes"] == 100_000
    assert run.err == ""
    run = cli("-q", "upload", path, "--purpose", "user_data")
    assert run.out.startswith("file-")
    assert len(run.out.split()) == 1
    assert run.err == ""


@pytest.mark.usefixtures("env", "terminal")
def test_list_draws_a_table_on_a_terminal(cli: Cli, api: af.Client) -> None:
    file = api.files.create(b"abc", "assistants", filename="notes.txt")
    run = cli("list")
    assert run.status == 0
    assert "\x1b[" in run.out  # drawn by rich
    for shown in ("FILENAME", file.id, "notes.txt"):
        assert shown in run.out


@pytest.mark.usefixtures("env", "terminal", "no_rich")
def test_without_rich_everything_works_in_plain_text(
    cli: Cli, api: af.Client, make_file: MakeFile, tmp_path: pathlib.Path
) -> None:
    path = make_file("a.txt", b"x" * 100_000)
    run = cli("upload", path, "--purpose", "user_data")
    assert run.status == 0
    assert run.err == ""
    (file,) = api.files.list().data
    run = cli("list")
    assert run.out.splitlines()[0].split()[0] == "ID"
    assert "\x1b[" not in run.out
    assert cli("download", file.id, tmp_path / "copy.txt").err == ""
    assert cli("wait", file.id).out == f"{file.id} is processed\n"
    assert "rich" not in sys.modules or sys.modules["rich"] is None


def test_sizes_and_times_for_people() -> None:
    assert [size(n) for n in (None, 0, 1023, 1024, 1536, 64 * 1024**2, 3 * 1024**4)] == [
        "-", "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "64.0 MiB", "3.0 TiB",
    ]  # fmt: skip
    assert size(5 * 1024**5) == "5120.0 TiB"
    assert when(0) == "1970-01-01 00:00:00 UTC"
    assert when(None) == "-"
