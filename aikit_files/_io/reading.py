"""Reading what an upload sends: a path, a blob, a file object or an async iterable, or a byte
range of one, in chunks read by worker threads one chunk ahead, and the MD5 of a source."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from collections.abc import AsyncGenerator, Callable
from typing import Any

from aikit_files._exceptions import LocalIOError
from aikit_files._limits import MiB
from aikit_files._protocol.sources import SourceKind, UploadSource

from .guarded import GuardedFile

#: Bytes read from a file per step: big enough that the hop to a worker thread is a small cost,
#: small enough that a few of them in flight stay a few MiB.
CHUNK_SIZE = MiB
#: The smallest chunk: when several readings run at once (the Parts of a large upload over TLS,
#: or many uploads), they share ``CHUNK_SIZE`` between them, down to this; each holds two
#: chunks (one being sent, one read ahead), so memory stays flat however many run.
MIN_CHUNK_SIZE = 128 * 1024

_readings = 0
"""Readings in progress in this process (all on event loops' threads)."""


def _chunk_size() -> int:
    return max(MIN_CHUNK_SIZE, CHUNK_SIZE // max(1, _readings))


Chunk = bytes | bytearray | memoryview


def forget(future: asyncio.Future[Any] | None) -> None:
    """Lets a worker thread's job end on its own, its outcome unread: the caller is already
    failing (or done), and the job's file is guarded (see ``GuardedFile``)."""
    if future is not None:
        future.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def ended_early(missing: int) -> LocalIOError:
    """The error for a file that held ``missing`` bytes fewer than the request declared."""
    return LocalIOError(f"the file ended {missing} bytes early: it changed during the upload")


def read_failed(exc: Exception) -> LocalIOError:
    """The error for a source that could not be opened or read (raise it ``from exc``)."""
    return LocalIOError(f"reading the file to upload failed: {exc!r}")


async def _read_file(file: GuardedFile, size: int | None) -> AsyncGenerator[Chunk, None]:
    """Reads ``size`` bytes (or to the end, if None) in worker threads, one chunk ahead; the
    file is closed (``GuardedFile.close``) when the reading ends, however it ends."""
    global _readings
    loop = asyncio.get_running_loop()
    remaining = size

    def next_read() -> asyncio.Future[bytes | memoryview] | None:
        if remaining == 0:
            return None
        chunk = _chunk_size()
        count = chunk if remaining is None else min(chunk, remaining)
        return loop.run_in_executor(None, file.read_into, bytearray(count))

    _readings += 1
    pending = next_read()
    try:
        while pending is not None:
            chunk = await pending
            pending = None
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise LocalIOError(
                    f"the file object's read() returned {type(chunk).__name__}, not bytes"
                )
            if not chunk:
                if remaining:
                    raise ended_early(remaining)
                return
            if remaining is not None:
                remaining -= len(chunk)
            # The next chunk is read while this one is being sent.
            pending = next_read()
            yield chunk
    finally:
        # NOTE: no await here: a second cancellation would skip the close.
        _readings -= 1
        forget(pending)
        file.close()


async def _read_range(
    source: UploadSource, offset: int, length: int | None
) -> AsyncGenerator[Chunk, None]:
    loop = asyncio.get_running_loop()
    if source.kind is SourceKind.BLOB:
        view: memoryview = source.value
        end = len(view) if length is None else offset + length
        for start in range(offset, end, CHUNK_SIZE):
            yield view[start : min(start + CHUNK_SIZE, end)]
    elif source.kind is SourceKind.STREAM:
        async for piece in source.value:
            if not isinstance(piece, bytes | bytearray | memoryview):
                raise LocalIOError(f"the async iterable yielded {type(piece).__name__}, not bytes")
            if piece:
                yield piece
    else:
        if source.kind is SourceKind.PATH:
            # NOTE: opened and positioned on the loop's thread (quick system calls): an await
            # there could be cancelled and leave the file open. Reads go to worker threads.
            file = GuardedFile(open(source.value, "rb", 0), owned=True)  # noqa: ASYNC230, SIM115
            try:
                file.seek(offset)
            except BaseException:
                file.close()
                raise
        else:
            file = GuardedFile(source.value, owned=False)
            if source.seekable:
                await loop.run_in_executor(None, file.seek, source.start + offset)
        async with contextlib.aclosing(_read_file(file, length)) as chunks:
            async for chunk in chunks:
                yield chunk


async def read_source(
    source: UploadSource,
    offset: int = 0,
    length: int | None = None,
) -> AsyncGenerator[Chunk, None]:
    """The bytes of ``source`` from ``offset``, ``length`` of them (to its end if None), in
    chunks; no read happens on the event loop's thread.

    Args:
        source: what to read.
        offset: where to start, from the source's start (a file object's ``start``).
        length: how many bytes; None reads to the end (to the size described, when known).

    Raises:
        LocalIOError: reading failed (the file, or the caller's iterable), or a file ended
            before ``length`` bytes; the original error is its ``__cause__``.
    """
    if length is None and source.size is not None:
        # NOTE: a known size is what the request declared: a file that ends sooner has changed.
        length = source.size - offset
    chunks = _read_range(source, offset, length)
    try:
        while True:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except LocalIOError:
                raise
            except Exception as exc:
                raise read_failed(exc) from exc
            yield chunk
    finally:
        await chunks.aclose()


#: Bytes hashed per step of an MD5 pass (in a worker thread, which hashlib runs without the GIL).
HASH_CHUNK = 4 * MiB


def _md5_of_file(read: Callable[[int], bytes], size: int, stop: threading.Event) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    remaining = size
    while remaining and not stop.is_set():
        chunk = read(min(HASH_CHUNK, remaining))
        if not chunk:
            raise ended_early(remaining)
        digest.update(chunk)
        remaining -= len(chunk)
    return digest.hexdigest()


def _md5_of_path(path: str, size: int, stop: threading.Event) -> str:
    with open(path, "rb") as file:
        return _md5_of_file(file.read, size, stop)


def _md5_of_object(file: Any, start: int, size: int, stop: threading.Event) -> str:
    file.seek(start)
    return _md5_of_file(file.read, size, stop)


async def md5_of(source: UploadSource) -> str:
    """The MD5 (hex) of a source of known size, read once, in order, in a worker thread.

    A path is read through a handle of its own; a file object is read from its ``start`` (the
    caller must not read it meanwhile); an async iterable has no size and no MD5 here.

    Raises:
        LocalIOError: the source could not be read, or ended early.
    """
    if source.size is None or source.kind is SourceKind.STREAM:
        raise ValueError("an MD5 pass needs a source of known size that can be read again")
    loop = asyncio.get_running_loop()
    # NOTE: a thread's job outlives a cancelled await: this tells it to stop reading.
    stop = threading.Event()
    try:
        if source.kind is SourceKind.BLOB:
            view: memoryview = source.value
            return await loop.run_in_executor(
                None, lambda: hashlib.md5(view, usedforsecurity=False).hexdigest()
            )
        if source.kind is SourceKind.PATH:
            return await loop.run_in_executor(None, _md5_of_path, source.value, source.size, stop)
        return await loop.run_in_executor(
            None, _md5_of_object, source.value, source.start, source.size, stop
        )
    except LocalIOError:
        raise
    except Exception as exc:
        raise read_failed(exc) from exc
    finally:
        stop.set()
