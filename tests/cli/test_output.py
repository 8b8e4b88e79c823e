"""What a terminal shows (progress bars, a table) and what it shows without rich; and the pure
formatting helpers."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
from collections.abc import Callable

import pytest

import aikit_files as af
from aikit_files.cli import _output, _progress
from aikit_files.cli._output import when
from aikit_files.cli._progress import Board
from aikit_files.cli._units import duration, parse_duration, parse_size, short_size

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
def test_an_upload_draws_a_bar_with_bytes_percent_and_rate(
    cli: Cli, api: af.Client, make_file: MakeFile
) -> None:
    path = make_file("big.bin", b"\0" * (3 * 1024 * 1024))
    run = cli("upload", path, "--purpose", "user_data")
    assert run.status == 0
    (file,) = api.files.list().data
    assert run.out == f"uploaded {path} as {file.id} (3 MiB (3,145,728 bytes), user_data)\n"
    assert BAR in run.err
    assert "big.bin" in run.err
    assert "3.0 MiB/3.0 MiB  100%" in run.err
    assert "stalled" not in run.err


@pytest.mark.usefixtures("env", "terminal")
def test_several_files_show_an_overall_bar_then_a_summary(
    cli: Cli, make_file: MakeFile, tmp_path: pathlib.Path
) -> None:
    paths = [make_file(f"file-{i}.txt", b"x" * (100_000 * (i + 1))) for i in range(3)]
    run = cli("upload", *paths, "--purpose", "user_data", "--concurrency", "2")
    assert run.status == 0
    lines = drawn(run.err)
    assert any(line.startswith("3/3 files") and "585.9 KiB/585.9 KiB  100%" in line
               for line in lines)  # fmt: skip
    assert re.fullmatch(r"3 created, 0 failed in [0-9.]+ s \([0-9.]+ [KMG]?i?B/s\)", lines[-1])
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
def test_without_rich_a_plain_line_and_a_hint(
    cli: Cli, api: af.Client, make_file: MakeFile, tmp_path: pathlib.Path
) -> None:
    path = make_file("a.txt", b"x" * 100_000)
    run = cli("upload", path, "--purpose", "user_data")
    assert run.status == 0
    hint, *drawing = run.err.split("\n", 1)
    assert hint == "aikit-files: progress bars need rich: pip install 'aikit-files[cli]'"
    # The line, redrawn in place (and erased while "uploaded ..." took its row on stdout).
    assert "\ra.txt  97.7 KiB/97.7 KiB  100%\x1b[K" in drawing[0]
    assert drawing[0].endswith("\x1b[K\n")
    (file,) = api.files.list().data
    run = cli("list")
    assert run.out.splitlines()[0].split()[0] == "ID"
    assert "\x1b[" not in run.out
    assert "97.7 KiB" in cli("download", file.id, tmp_path / "copy.txt").err
    assert cli("wait", file.id).out == f"{file.id} is processed\n"
    assert "rich" not in sys.modules or sys.modules["rich"] is None


def test_the_commands_of_the_cli_never_load_rich_into_the_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, aikit_files; print('rich' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "False\n"


def test_sizes_durations_and_times_for_people() -> None:
    assert [short_size(n) for n in (None, 0, 1023, 1024, 1536, 64 * 1024**2, 3 * 1024**4)] == [
        "-", "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "64.0 MiB", "3.0 TiB",
    ]  # fmt: skip
    assert short_size(5 * 1024**5) == "5120.0 TiB"
    assert [duration(s) for s in (2.5, 45, 3600, 5400, 90061)] == [
        "2.5 s", "45 s", "1 h", "1 h 30 min", "1 d 1 h",
    ]  # fmt: skip
    assert when(0) == "1970-01-01 00:00:00 UTC"
    assert when(None) == "-"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("1h", 3600), ("7d", 604800), ("600", 600), ("1.5h", 5400)],
)
def test_durations_as_typed(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "count"),
    [("512M", 512 * 1024**2), ("10G", 10 * 1024**3), ("1.5GiB", 1536 * 1024**2),
     ("4096", 4096), ("10kb", 10240), ("1T", 1024**4)],
)  # fmt: skip
def test_sizes_as_typed_are_powers_of_1024(text: str, count: int) -> None:
    assert parse_size(text) == count


class Clock:
    """``time.monotonic`` as a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_stalled_transfer_says_so_instead_of_a_stale_rate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(_progress, "monotonic", clock)
    board = Board()
    transfer = board.add("a.bin", 10 * 1024**2)
    transfer.start()
    for second in range(1, 5):
        clock.now += 1
        transfer.update(second * 1024**2, None)
    assert board.figures([transfer], clock.now) == ("4.0 MiB/10.0 MiB  40%  1.0 MiB/s  6 s left")
    clock.now += _progress.STALLED_AFTER + 1
    assert board.figures([transfer], clock.now) == "4.0 MiB/10.0 MiB  40%  stalled"
    clock.now += 1
    transfer.update(5 * 1024**2, None)  # moving again
    assert "stalled" not in board.figures([transfer], clock.now)


def test_after_the_last_byte_it_is_completing_until_the_call_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(_progress, "monotonic", clock)
    board = Board()
    transfer = board.add("big.bin", 2048)
    transfer.start()
    clock.now += 1
    transfer.update(2048, 2048)
    clock.now += 30  # the server assembles the file: no byte moves, yet nothing is stalled
    assert board.figures([transfer], clock.now) == "2.0 KiB/2.0 KiB  100%  completing"
    transfer.end()
    assert "completing" not in board.figures([transfer], clock.now)


def test_never_more_rows_than_the_terminal_has() -> None:
    import io

    from rich.console import Console
    from rich.progress import Progress

    console = Console(file=io.StringIO(), force_terminal=True, height=6, width=100)
    with Progress(console=console, auto_refresh=False) as progress:
        board = _progress.RichBoard(progress, console.size.height, several=True)
        transfers = [board.add(f"f{i}", 100) for i in range(10)]
        for transfer in transfers:
            transfer.start()
        visible = [task for task in progress.tasks if task.visible]
        assert len(visible) == 6 - 1  # the overall bar and 4 files: one row left free
        for transfer in transfers[:8]:
            transfer.update(100, 100)
            transfer.end()
        transfers[8].update(50, 100)
        transfers[9].update(50, 100)
        assert [task.description for task in progress.tasks if task.visible][1:] == ["f8", "f9"]


def test_the_plain_line_of_several_files_names_those_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    clock = Clock()
    monkeypatch.setattr(_progress, "monotonic", clock)
    board = _progress.PlainBoard(io.StringIO())
    first, second, _ = (board.add(name, 1024) for name in ("a", "b", "c"))
    first.start()
    second.start()
    clock.now += 1
    first.update(1024, 1024)
    first.end()
    second.update(512, 1024)
    assert board.line(clock.now).startswith("1/3 files  1.5 KiB/3.0 KiB  50%")
    assert board.line(clock.now).endswith("  (b)")


def test_what_an_interrupt_says_of_several_uploads() -> None:
    import io

    from aikit_files.cli._commands import InOrder
    from aikit_files.cli._output import Output
    from aikit_files.cli._upload import _upload_interrupted

    lines = InOrder(3, Output("quiet", stdout=io.StringIO()))
    lines.put(0, {}, "uploaded", "file-1")
    sources = ["a", "b", "c"]
    assert _upload_interrupted(sources, lines, {1}, {}) == (
        "cancelled: 1 of 3 files uploaded; the rest were not"
    )
    journal = pathlib.Path("/cache/j.json")
    assert _upload_interrupted(sources, lines, {1, 2}, {1: journal, 2: journal}) == (
        "interrupted: 1 of 3 files uploaded; run the same command again to resume "
        "(journal: /cache/j.json and 1 more)"
    )
