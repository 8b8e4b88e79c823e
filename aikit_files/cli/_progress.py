"""Progress of transfers on a terminal: bars drawn by rich (the ``cli`` extra), or one plain line
redrawn without it; "stalled" when nothing moves, "completing" once every byte is sent, and for
several files one overall bar and a bar per file in flight."""

from __future__ import annotations

import collections
import contextlib
import shutil
import threading
from collections.abc import Iterator
from time import monotonic
from typing import TYPE_CHECKING, TextIO

from ._units import duration, short_size

if TYPE_CHECKING:
    import rich.progress

#: Seconds without a byte after which a transfer shows "stalled" instead of a stale rate.
STALLED_AFTER = 5.0
#: The rate is that of the last seconds, not the average since the start.
RATE_WINDOW = 10.0
#: How often the plain line is redrawn (rich redraws on its own).
REDRAW_EVERY = 0.5
#: Said once, where bars would be drawn but rich is not installed.
RICH_HINT = "aikit-files: progress bars need rich: pip install 'aikit-files[cli]'"


class _Rate:
    """Bytes a second over the last ``RATE_WINDOW`` seconds."""

    def __init__(self) -> None:
        self._samples: collections.deque[tuple[float, int]] = collections.deque()

    def add(self, now: float, done: int) -> None:
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] > RATE_WINDOW:
            self._samples.popleft()

    def per_second(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (first, low), (last, high) = self._samples[0], self._samples[-1]
        return (high - low) / (last - first) if last > first else None


class Transfer:
    """One file's transfer, as its ``on_progress`` tells it; ``board`` redraws on changes."""

    def __init__(self, board: Board, label: str, total: int | None) -> None:
        self.board = board
        self.label = label
        self.total = total
        self.done = 0
        self.started: float | None = None
        self.ended = False
        self.last_change = 0.0
        self.rate = _Rate()

    def start(self) -> None:
        """The transfer begins."""
        self.started = self.last_change = monotonic()
        self.board.changed(self)

    def update(self, done: int, total: int | None) -> None:
        """``on_progress(done_bytes, total_bytes)`` of the transfer."""
        now = monotonic()
        if self.started is None:
            self.started = now
        if total is not None:
            self.total = total
        if done != self.done:
            self.last_change = now
        self.done = done
        self.rate.add(now, done)
        self.board.changed(self)

    def end(self) -> None:
        """The call returned (or failed): the transfer is over."""
        self.ended = True
        self.board.changed(self)

    @property
    def in_flight(self) -> bool:
        """Started and not over."""
        return self.started is not None and not self.ended

    def state(self, now: float) -> str | None:
        """``completing`` (every byte sent, the server not answered yet), ``stalled`` (nothing
        moved for ``STALLED_AFTER`` s), or None while bytes flow or once over."""
        if not self.in_flight:
            return None
        if self.total is not None and self.done >= self.total and self.total > 0:
            return "completing"
        if now - self.last_change > STALLED_AFTER:
            return "stalled"
        return None


class Board:
    """The transfers of one command and how they are shown: not at all (this class), one plain
    line, or rich's bars."""

    def __init__(self) -> None:
        self.transfers: list[Transfer] = []
        self.began = monotonic()
        self.rate = _Rate()

    def add(self, label: str, total: int | None) -> Transfer:
        """A transfer of ``total`` bytes (None: unknown), not started yet."""
        transfer = Transfer(self, label, total)
        self.transfers.append(transfer)
        return transfer

    def changed(self, transfer: Transfer) -> None:
        """A transfer moved."""
        self.rate.add(monotonic(), self.done_bytes)

    def print_above(self, stream: TextIO, text: str) -> None:
        """Prints a line for people on ``stream`` (stdout or stderr), above what is drawn."""
        stream.write(text + "\n")
        stream.flush()

    @property
    def done_bytes(self) -> int:
        return sum(t.done for t in self.transfers)

    @property
    def total_bytes(self) -> int | None:
        totals = [t.total for t in self.transfers]
        return None if None in totals else sum(t for t in totals if t is not None)

    def figures(self, transfers: list[Transfer], now: float) -> str:
        """Bytes, percent, and rate and time left, or a state, of ``transfers`` (one, or all)."""
        done = sum(t.done for t in transfers)
        totals = [t.total for t in transfers]
        total = None if None in totals else sum(t for t in totals if t is not None)
        shown = f"{short_size(done)}/{short_size(total)}" if total else short_size(done)
        if total:
            shown += f"  {min(100, 100 * done // total)}%"
        states = {t.state(now) for t in transfers if t.in_flight}
        rate = (transfers[0].rate if len(transfers) == 1 else self.rate).per_second()
        if states and None not in states:
            # NOTE: a rate stays on the last bytes: once none flow it would be stale.
            return f"{shown}  {'stalled' if 'stalled' in states else 'completing'}"
        if rate:
            shown += f"  {short_size(rate)}/s"
            left = (total - done) / rate if total else 0
            if left >= 1:
                shown += f"  {duration(left)} left"
        return shown


class PlainBoard(Board):
    """One line on a terminal, redrawn in place: bytes, percent, rate, time left."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._redraw, name="aikit-files-progress")

    def line(self, now: float) -> str:
        """What the line shows now."""
        flying = [t for t in self.transfers if t.in_flight]
        if len(self.transfers) == 1:
            return f"{self.transfers[0].label}  {self.figures(self.transfers, now)}"
        ended = sum(t.ended for t in self.transfers)
        names = ", ".join(t.label for t in flying)
        return f"{ended}/{len(self.transfers)} files  {self.figures(self.transfers, now)}" + (
            f"  ({names})" if names else ""
        )

    def draw(self) -> None:
        with self._lock:
            if not any(t.started is not None for t in self.transfers):
                return
            width = shutil.get_terminal_size().columns
            # \r and "erase to the end of the line": redrawn in place, never wrapped.
            self._stream.write(f"\r{self.line(monotonic())[: width - 1]}\x1b[K")
            self._stream.flush()

    def print_above(self, stream: TextIO, text: str) -> None:
        # The line is erased, the text takes its row, and the next redraw comes below it.
        with self._lock:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            super().print_above(stream, text)

    def _redraw(self) -> None:
        while not self._stop.wait(REDRAW_EVERY):
            self.draw()

    @contextlib.contextmanager
    def running(self) -> Iterator[PlainBoard]:
        print(RICH_HINT, file=self._stream, flush=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()
            self.draw()
            self._stream.write("\n")
            self._stream.flush()


class RichBoard(Board):
    """rich's bars: one a file in flight (never more than the terminal's rows), and an overall
    one above them for several files."""

    def __init__(self, progress: rich.progress.Progress, rows: int, *, several: bool) -> None:
        super().__init__()
        self._progress = progress
        self._rows = max(rows, 3)
        self._tasks: dict[int, rich.progress.TaskID] = {}
        self._lock = threading.Lock()
        # NOTE: added first, the overall bar is drawn above the files' (rich keeps the order).
        self._overall = progress.add_task("", total=None, board=self, key=None) if several else None

    def add(self, label: str, total: int | None) -> Transfer:
        transfer = super().add(label, total)
        with self._lock:
            self._tasks[id(transfer)] = self._progress.add_task(
                label, total=total, visible=False, board=self, key=id(transfer)
            )
        return transfer

    def changed(self, transfer: Transfer) -> None:
        super().changed(transfer)
        with self._lock:
            several = self._overall is not None
            shown = sum(self._progress.tasks[self._index(t)].visible for t in self.transfers)
            task = self._tasks[id(transfer)]
            visible = transfer.in_flight or not several
            if visible and not self._progress.tasks[self._index(transfer)].visible:
                visible = shown < self._rows - 2
            self._progress.update(
                task, completed=transfer.done, total=transfer.total, visible=visible
            )
            if self._overall is not None:
                ended = sum(t.ended for t in self.transfers)
                self._progress.update(
                    self._overall,
                    description=f"{ended}/{len(self.transfers)} files",
                    completed=self.done_bytes,
                    total=self.total_bytes,
                )

    def print_above(self, stream: TextIO, text: str) -> None:
        if stream.isatty():
            # NOTE: on the terminal the bars are drawn on, through rich, which prints above
            # them; rich does not take over sys.stdout (a pipe must get stdout's lines).
            self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            super().print_above(stream, text)

    def _index(self, transfer: Transfer) -> int:
        wanted = self._tasks[id(transfer)]
        return next(i for i, task in enumerate(self._progress.tasks) if task.id == wanted)

    def transfer_of(self, key: int | None) -> list[Transfer]:
        """The transfers a row shows: its own, or all of them (``key`` None: the overall)."""
        if key is None:
            return list(self.transfers)
        return [t for t in self.transfers if id(t) == key]


def _figures_column() -> rich.progress.ProgressColumn:
    """Bytes, percent and rate and time left, or a state: the same words as the plain line."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Figures(ProgressColumn):
        def render(self, task: rich.progress.Task) -> Text:
            board: RichBoard = task.fields["board"]
            transfers = board.transfer_of(task.fields["key"])
            return Text(board.figures(transfers, monotonic()), style="progress.data.speed")

    return Figures()


@contextlib.contextmanager
def rich_board(stream: TextIO, *, several: bool, transient: bool) -> Iterator[RichBoard]:
    """rich's bars on ``stream`` while the block runs."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    console = Console(file=stream, force_terminal=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        _figures_column(),
        console=console,
        transient=transient,
        refresh_per_second=4,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as progress:
        yield RichBoard(progress, console.size.height, several=several)
