"""What the command line prints: JSON (one document, or JSON Lines for the commands of several
items), ids (``--quiet``), or text for people, with a table and progress on a terminal (rich's
when it is installed, one plain line otherwise)."""

from __future__ import annotations

import contextlib
import datetime
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Literal, TextIO

import attrs

import aikit_files as af
from aikit_files._limits import human_size
from aikit_files._serde import unstructure

from ._progress import Board, PlainBoard, rich_board
from ._units import short_size

#: How a command prints: text for people, one JSON document, or only ids.
Mode = Literal["text", "json", "quiet"]


def is_terminal(stream: object) -> bool:
    """Whether ``stream`` is a terminal: tables and progress are drawn only there."""
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def rich_installed() -> bool:
    """Whether rich (the ``cli`` extra) can be imported; without it the output is plain text."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def when(timestamp: int | None) -> str:
    """A Unix time for people, in UTC."""
    if timestamp is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


class Output:
    """Prints a command's results in the mode asked for, to ``stdout`` (text, documents, ids)
    and ``stderr`` (bars, notes); streams left out are ``sys``'s at the time of the call."""

    def __init__(self, mode: Mode, stdout: TextIO | None = None, stderr: TextIO | None = None):
        self.mode: Mode = mode
        self.stdout = sys.stdout if stdout is None else stdout
        self.stderr = sys.stderr if stderr is None else stderr
        #: The progress drawn now, which lines for people are printed above.
        self._board = Board()

    # --- What each command prints. ---

    def note(self, text: str) -> None:
        """A remark on stderr that is not the result (text mode only)."""
        if self.mode == "text":
            self._board.print_above(self.stderr, text)

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

    def line(self, value: object, file_id: str | None, text: str | None) -> None:
        """One item of a command of several (``upload``, ``delete``): one JSON object on a line
        of its own (JSON Lines), its id, or its text; an item with no id or text prints nothing
        outside JSON (its error is told on stderr)."""
        if self.mode == "json":
            self.stdout.write(json.dumps(unstructure(value)) + "\n")
        elif self.mode == "quiet" and file_id is not None:
            self.stdout.write(file_id + "\n")
        elif self.mode == "text" and text is not None:
            self._board.print_above(self.stdout, text)
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
                shown = human_size(value)
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
                short_size(f.bytes),
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

    # --- Progress. ---

    @property
    def draws_progress(self) -> bool:
        """Whether transfers show progress: text mode, on a terminal."""
        return self.mode == "text" and is_terminal(self.stderr)

    @contextlib.contextmanager
    def transfers(self, count: int = 1, *, transient: bool = False) -> Iterator[Board]:
        """The progress of the ``count`` transfers made inside the block, on stderr: rich's
        bars, one plain line without rich, or nothing where none is wanted.

        Args:
            count: how many transfers (several get an overall bar).
            transient: remove the bars when the block ends, instead of leaving them drawn.
        """
        if not self.draws_progress:
            yield Board()
            return
        with contextlib.ExitStack() as stack:
            if rich_installed():
                self._board = stack.enter_context(
                    rich_board(self.stderr, several=count > 1, transient=transient)
                )
            else:
                self._board = stack.enter_context(PlainBoard(self.stderr).running())
            try:
                yield self._board
            finally:
                self._board = Board()

    @contextlib.contextmanager
    def waiting(self, text: str) -> Iterator[None]:
        """A spinner with ``text`` on stderr while the block runs (where bars would be drawn)."""
        if not (self.draws_progress and rich_installed()):
            yield
            return
        from rich.console import Console

        with Console(file=self.stderr, force_terminal=True).status(text):
            yield
