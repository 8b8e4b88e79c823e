"""A file that worker threads read or write and the loop's thread closes, safely.

A cancelled ``await`` on a worker thread's job does not stop the thread: the job may still run
after the coroutine that started it has moved on. So each job runs under a lock, and ``close``
takes the lock: it waits for a job that is running (one chunk's work at most), and a job that
starts after it does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import IO


class GuardedFile:
    """Wraps a binary file for reads and writes in worker threads and a close on the loop.

    Args:
        file: the file.
        owned: whether ``close`` closes the file too (not a file object the caller gave us).
    """

    def __init__(self, file: IO[bytes], *, owned: bool) -> None:
        self._file = file
        self._owned = owned
        self._lock = threading.Lock()
        self._closed = False

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; nothing once closed."""
        with self._lock:
            if self._closed:
                return b""
            data: bytes = self._file.read(size)
            return data

    def write_all(self, chunks: Iterable[bytes]) -> None:
        """Writes ``chunks`` in order; nothing once closed."""
        with self._lock:
            if self._closed:
                return
            for chunk in chunks:
                self._file.write(chunk)

    def seek(self, offset: int) -> None:
        """Moves to ``offset``."""
        with self._lock:
            self._file.seek(offset)

    def close(self) -> None:
        """Stops every job: waits for one that runs, and turns later ones into no-ops. Closes
        the file if it is ours."""
        with self._lock:
            if not self._closed:
                self._closed = True
                if self._owned:
                    self._file.close()
