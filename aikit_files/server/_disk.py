"""The disk's primitives: durable directory entries, quiet removals, and a file being received
(``TempFile``), written in blocks off the event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import pathlib
from typing import TYPE_CHECKING, BinaryIO, Final

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

#: Received bytes are gathered into blocks of this size before a write, which runs off the loop.
WRITE_BLOCK: Final = 1024 * 1024


def fsync_dir(path: pathlib.Path) -> None:
    """Makes the entries of directory ``path`` (a rename, an unlink) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unlink_quietly(path: pathlib.Path) -> None:
    """Removes ``path`` if it exists."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def unlink_all(paths: list[pathlib.Path]) -> None:
    """Removes the files at ``paths`` that exist."""
    for path in paths:
        unlink_quietly(path)


class TempFile:
    """A file being received under ``tmp/``, written in blocks off the event loop."""

    def __init__(self, path: pathlib.Path, handle: BinaryIO):
        self.path = path
        self.size = 0
        self._handle = handle
        self._block = bytearray()
        self.placed = False
        """Whether the file was moved into place (set by whoever moved it): nothing is left to
        discard then."""

    async def write(self, data: bytes) -> None:
        """Appends ``data``; a full block is written by a worker thread."""
        self.size += len(data)
        self._block += data
        if len(self._block) >= WRITE_BLOCK:
            await self._flush()

    async def _flush(self) -> None:
        if self._block:
            # NOTE: the block is not touched again until the worker has written it.
            await asyncio.to_thread(self._handle.write, self._block)
            self._block = bytearray()

    async def copy_from(self, paths: list[pathlib.Path], digest: Hash | None = None) -> None:
        """Appends the content of the files at ``paths``, block by block in a worker thread,
        feeding ``digest`` (if given) on the way."""
        await self._flush()
        self.size += await asyncio.to_thread(self._copy, paths, digest)

    def _copy(self, paths: list[pathlib.Path], digest: Hash | None) -> int:
        # NOTE: the digest takes each block in a thread of its own while this one writes it and
        # reads the next (both release the GIL): a completion costs the longer of the two, not
        # their sum (2 GiB: MD5 alone takes about 3 s here). One block is hashed at a time.
        copied = 0
        with concurrent.futures.ThreadPoolExecutor(1, "aikit-files-md5") as hasher:
            hashing: concurrent.futures.Future[None] | None = None
            for path in paths:
                with path.open("rb") as source:
                    while block := source.read(WRITE_BLOCK):
                        if digest is not None:
                            if hashing is not None:
                                hashing.result()
                            hashing = hasher.submit(digest.update, block)
                        self._handle.write(block)
                        copied += len(block)
            if hashing is not None:
                hashing.result()
        return copied

    async def finish(self) -> None:
        """Writes what is left, fsyncs and closes the file: its bytes are on disk."""
        await asyncio.to_thread(self.finish_now)

    def finish_now(self) -> None:
        """``finish``, in the calling thread (blocking I/O); nothing once finished."""
        # NOTE: a small upload is written, synced and closed in one trip to a worker thread,
        # with its move into place (``Store.add``): each trip costs the loop a wake-up.
        if self._handle.closed:
            return
        if self._block:
            self._handle.write(self._block)
            self._block = bytearray()
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()

    def discard(self) -> None:
        """Closes and removes the file."""
        # NOTE: closing flushes what is buffered, which fails again on a full disk: the file
        # is removed all the same.
        with contextlib.suppress(OSError):
            self._handle.close()
        unlink_quietly(self.path)
