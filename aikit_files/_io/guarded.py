"""A file that worker threads read, write or prefetch and the loop's thread closes, safely.

A cancelled ``await`` on a worker thread's job does not stop the thread: the job may still run
after the coroutine that started it has moved on. So each job runs under a lock, and ``close``
takes the lock: it waits for a job that is running (one chunk's work at most), and a job that
starts after it does nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import IO

#: Whether ``prefetch`` can ask the kernel for anything (Linux and most Unixes; not macOS).
CAN_PREFETCH = hasattr(os, "posix_fadvise")
#: Bytes asked for per call in ``prefetch``, and per hold of the lock (so that ``close`` waits
#: for one call at most). The kernel may read less of each than asked: it caps one request at
#: its read-ahead window (``read_ahead_kb``), and its own read-ahead of a file read in order
#: covers the rest.
PREFETCH_STEP = 1024 * 1024


class GuardedFile:
    """Wraps a binary file for reads, writes and prefetches in worker threads and a close on
    the loop.

    Args:
        file: the file.
        owned: whether ``close`` closes the file too (not a file object the caller gave us).
    """

    def __init__(self, file: IO[bytes], *, owned: bool) -> None:
        self._file = file
        self._owned = owned
        self._lock = threading.Lock()
        self._closed = False

    @property
    def raw(self) -> IO[bytes]:
        """The file itself, for the loop's thread (``loop.sendfile``); close it with ``close``."""
        return self._file

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; nothing once closed."""
        with self._lock:
            if self._closed:
                return b""
            data: bytes = self._file.read(size)
            return data

    def read_into(self, buffer: bytearray) -> bytes | memoryview:
        """Up to ``len(buffer)`` bytes, read into ``buffer`` when the file can (the view of what
        was read), else read anew; nothing once closed.

        NOTE: a buffer made by the caller's thread keeps the chunk's memory in that thread's
        allocator arena: chunks made by many worker threads, and freed by the loop's thread,
        left memory held in each worker's arena (glibc).
        """
        readinto = getattr(self._file, "readinto", None)
        if readinto is None:
            return self.read(len(buffer))
        with self._lock:
            if self._closed:
                return b""
            try:
                count = readinto(buffer)
            except NotImplementedError:  # a RawIOBase that defines read() alone
                data: bytes = self._file.read(len(buffer))
                return data
            return memoryview(buffer)[: count or 0]

    def write_all(self, chunks: Iterable[bytes]) -> None:
        """Writes ``chunks`` in order; nothing once closed."""
        with self._lock:
            if self._closed:
                return
            for chunk in chunks:
                self._file.write(chunk)

    def prefetch(self, offset: int, length: int) -> None:
        """Asks the kernel to bring ``length`` bytes from ``offset`` into its page cache (the
        pages made, their disk reads started, none waited for); nothing once closed, nor where
        the file's system declines (it is only advice)."""
        end = offset + length
        for start in range(offset, end, PREFETCH_STEP):
            with self._lock:
                if self._closed:
                    return
                try:
                    os.posix_fadvise(
                        self._file.fileno(),
                        start,
                        min(PREFETCH_STEP, end - start),
                        os.POSIX_FADV_WILLNEED,
                    )
                except OSError:
                    return

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
