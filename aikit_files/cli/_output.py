"""What the command line prints: one JSON document (``--json``), ids (``--quiet``), or text for
people, with a table and progress bars on a terminal (through rich, when it is installed)."""

from __future__ import annotations

import contextlib
import datetime
import json
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal, TextIO

import attrs

import aikit_files as af
from aikit_files._serde import unstructure

if TYPE_CHECKING:
    import rich.progress

#: How a command prints: text for people, one JSON document, or only ids.
Mode = Literal["text", "json", "quiet"]

#: The units of ``size``, each 1024 times the one before.
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal: tables and progress bars are drawn only there."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def rich_installed() -> bool:
    """Whether rich (the ``cli`` extra) can be imported; without it the output is plain text."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def size(count: int | None) -> str:
    """A number of bytes for people: ``512 B``, ``1.5 KiB``, ``64.0 MiB``."""
    if count is None:
        return "-"
    value = float(count)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def when(timestamp: int | None) -> str:
    """A Unix time for people, in UTC."""
    if timestamp is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


class Bar:
    """One transfer's progress bar; a bar that is not drawn takes its updates all the same."""

    def start(self) -> None:
        """The transfer begins (a bar added with ``started=False`` waits for this)."""

    def update(self, done: int, total: int | None) -> None:
        """``on_progress(done_bytes, total_bytes)`` of the transfer."""


class _RichBar(Bar):
    def __init__(self, progress: rich.progress.Progress, task: rich.progress.TaskID) -> None:
        self._progress = progress
        self._task = task

    def start(self) -> None:
        self._progress.start_task(self._task)

    def update(self, done: int, total: int | None) -> None:
        self._progress.update(self._task, completed=done, total=total)


class Bars:
    """The progress bars of one command, one per transfer; draws nothing unless asked to."""

    def add(self, label: str, total: int | None, *, started: bool = True) -> Bar:
        """A bar for one transfer of ``total`` bytes (None: unknown)."""
        return Bar()


class _RichBars(Bars):
    def __init__(self, progress: rich.progress.Progress) -> None:
        self._progress = progress

    def add(self, label: str, total: int | None, *, started: bool = True) -> Bar:
        task = self._progress.add_task(label, total=total, start=started)
        return _RichBar(self._progress, task)


def _speed_column() -> rich.progress.ProgressColumn:
    """The transfer rate in the units of the bytes column (rich's own rate is in decimal MB/s,
    beside binary MiB)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class SpeedColumn(ProgressColumn):
        def render(self, task: rich.progress.Task) -> Text:
            speed = task.finished_speed or task.speed
            shown = "?" if speed is None else f"{size(int(speed))}/s"
            return Text(shown, style="progress.data.speed")

    return SpeedColumn()


class Output:
    """Prints a command's results in the mode asked for, to ``stdout`` (text, documents, ids)
    and ``stderr`` (bars, notes); streams left out are ``sys``'s at the time of the call."""

    def __init__(self, mode: Mode, stdout: TextIO | None = None, stderr: TextIO | None = None):
        self.mode: Mode = mode
        self.stdout = sys.stdout if stdout is None else stdout
        self.stderr = sys.stderr if stderr is None else stderr

    # --- What each command prints. ---

    def note(self, text: str) -> None:
        """A remark on stderr that is not the result (text mode only)."""
        if self.mode == "text":
            print(text, file=self.stderr, flush=True)

    def result(self, value: object, ids: Sequence[str], text: Sequence[str]) -> None:
        """A command's result: ``value`` as a JSON document, ``ids`` one a line, or ``text``."""
        if self.mode == "json":
            # NOTE: ASCII (non-ASCII as \u escapes): the document survives any stdout encoding.
            json.dump(unstructure(value), self.stdout, indent=2)
            self.stdout.write("\n")
            self.stdout.flush()
        elif self.mode == "quiet":
            for file_id in ids:
                print(file_id, file=self.stdout)
            self.stdout.flush()
        else:
            for line in text:
                print(line, file=self.stdout)
            self.stdout.flush()

    def file(self, file: af.OpenAIFile) -> None:
        """One file: its fields, one a line (``get``)."""
        fields = attrs.asdict(file)
        width = max(len(name) for name in fields)
        lines = []
        for name, value in fields.items():
            if name in ("created_at", "expires_at") and value is not None:
                shown = f"{value} ({when(value)})"
            elif name == "bytes" and value is not None:
                shown = f"{value} ({size(value)})"
            else:
                shown = "-" if value is None else str(value)
            lines.append(f"{name:<{width}}  {shown}")
        self.result(file, [file.id], lines)

    def file_list(self, page: af.FileList) -> None:
        """A page of files (or every page, as one): a table on a terminal, aligned columns
        elsewhere."""
        if self.mode != "text":
            self.result(page, [f.id for f in page.data], [])
            return
        headings = ("ID", "CREATED (UTC)", "BYTES", "PURPOSE", "STATUS", "FILENAME")
        rows = [
            (
                f.id,
                when(f.created_at).removesuffix(" UTC"),
                size(f.bytes),
                f.purpose,
                f.status or "-",
                f.filename,
            )
            for f in page.data
        ]
        if is_terminal(self.stdout) and rich_installed():
            from rich.console import Console
            from rich.table import Table

            table = Table(*headings, box=None, header_style="bold", pad_edge=False)
            for row in rows:
                table.add_row(*row)
            console = Console(file=self.stdout, force_terminal=True, highlight=False)
            # NOTE: an id, a date or a size folded in two is no use: a table wider than the
            # terminal is printed whole and left to wrap, as ``docker ps`` does.
            natural = console.measure(
                table, options=console.options.update(max_width=10_000)
            ).maximum
            if natural > console.width:
                console = Console(
                    file=self.stdout, force_terminal=True, highlight=False, width=natural
                )
            console.print(table)
        else:
            widths = [
                max(len(cell) for cell in column) for column in zip(headings, *rows, strict=True)
            ]
            for row in (headings, *rows):
                cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
                print("  ".join(cells).rstrip(), file=self.stdout)
            self.stdout.flush()
        count = len(page.data)
        self.note(f"{count} file{'' if count == 1 else 's'}")
        if page.has_more:
            self.note(f"more files follow: --after {page.last_id}, or --all")

    # --- Progress bars. ---

    @property
    def draws_bars(self) -> bool:
        """Whether transfers show progress bars: text mode, on a terminal, with rich."""
        return self.mode == "text" and is_terminal(self.stderr) and rich_installed()

    @contextlib.contextmanager
    def bars(self, *, transient: bool = False) -> Iterator[Bars]:
        """The progress bars of the transfers made inside the block (on stderr, with bytes,
        rate and time left), or bars that draw nothing where none is wanted.

        Args:
            transient: remove the bars when the block ends, instead of leaving them drawn.
        """
        if not self.draws_bars:
            yield Bars()
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        console = Console(file=self.stderr, force_terminal=True)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            _speed_column(),
            TimeRemainingColumn(),
            console=console,
            transient=transient,
        ) as progress:
            yield _RichBars(progress)

    @contextlib.contextmanager
    def waiting(self, text: str) -> Iterator[None]:
        """A spinner with ``text`` on stderr while the block runs (where bars would be drawn)."""
        if not self.draws_bars:
            yield
            return
        from rich.console import Console

        with Console(file=self.stderr, force_terminal=True).status(text):
            yield
