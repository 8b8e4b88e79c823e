"""Where a response's body goes: a model built from JSON, bytes in memory, a file on disk, or
a stream.

A sink reads a successful response into the call's value. A JSON answer is read up to a limit
sized to the largest answer the API gives, so that an endless or huge body cannot take the
client's memory. The file sink streams to a temporary file beside the destination and renames
it once complete, so nothing half-written is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import secrets
from collections.abc import Awaitable, Callable
from typing import IO, Final, TypeVar

import aiohttp
from aiohttp import hdrs

from aikit_files._exceptions import APIConnectionError, APIError, APITimeoutError, LocalIOError
from aikit_files._limits import MiB
from aikit_files._params import ProgressCallback
from aikit_files._protocol.responses import parse_model, request_id

from .body import report
from .guarded import GuardedFile
from .reading import CHUNK_SIZE, forget

T = TypeVar("T")

#: Reads a successful response into a call's value.
Sink = Callable[[aiohttp.ClientResponse], Awaitable[T]]

#: How much of an error response is read: error bodies are small; a huge one is cut.
ERROR_BODY_LIMIT = 1024 * 1024


#: The most a file object takes as JSON, with room to spare: five numbers (20 digits each at
#: most), an id, ``object``, ``purpose`` and ``status`` (64 characters each, more than any the
#: API uses), a filename of 255 UTF-8 bytes each escaped as ``\\u00XX`` (1,530 characters),
#: ``status_details`` (a sentence; 1 KiB) and the names, quotes and indentation (300): under
#: 3.3 KiB, rounded up.
FILE_JSON_BOUND: Final = 4 * 1024
#: The most a JSON answer of the Files API is read to: the largest is a list page of
#: ``LIST_LIMIT_MAX`` (10,000) files, at most 10,000 * 4 KiB, about 39 MiB, with room for the
#: page's own fields; 64 MiB leaves 60 % more on top (a real page of 10,000 files is about
#: 3 MiB). Downloads (``content``, ``download``) are the user's data, not JSON, and unlimited.
JSON_BODY_LIMIT: Final = 64 * MiB


def _too_large(response: aiohttp.ClientResponse, what: str) -> APIError:
    return APIError(
        f"the server's answer {what} more than {JSON_BODY_LIMIT // MiB} MiB, larger than any "
        "answer of the Files API (a page of 10,000 files) can be; it was not read further",
        request_id=request_id(response.headers),
    )


async def read_json_body(response: aiohttp.ClientResponse) -> bytes | bytearray:
    """A JSON answer's body, read whole, up to ``JSON_BODY_LIMIT`` bytes.

    Raises:
        APIError: the body is (or says it is) larger than the limit; the connection is then
            dropped, not read to its end.
    """
    length = response.content_length
    if length is not None and length > JSON_BODY_LIMIT:
        raise _too_large(response, f"declares {length:,} bytes,")
    if length is not None and hdrs.CONTENT_ENCODING not in response.headers:
        # NOTE: aiohttp reads no further than the declared length, so this is all the body
        # holds; a compressed one is counted as it is inflated, below.
        return await response.read()
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > JSON_BODY_LIMIT:
            raise _too_large(response, "goes on for")
    return body


def json_sink(cls: type[T]) -> Sink[T]:
    """A sink that builds a ``cls`` model from the response's JSON, read up to
    ``JSON_BODY_LIMIT`` bytes."""

    async def read(response: aiohttp.ClientResponse) -> T:
        return parse_model(await read_json_body(response), cls, response.headers)

    return read


async def bytes_sink(response: aiohttp.ClientResponse) -> bytes:
    """A sink that returns the whole body."""
    return await response.read()


async def error_body(response: aiohttp.ClientResponse) -> bytes:
    """Up to ``ERROR_BODY_LIMIT`` bytes of an error response; what arrived, if it breaks off."""
    chunks: list[bytes] = []
    size = 0
    with contextlib.suppress(aiohttp.ClientError, OSError):
        async for chunk in response.content.iter_any():
            chunks.append(chunk)
            size += len(chunk)
            if size >= ERROR_BODY_LIMIT:
                break
    return b"".join(chunks)[:ERROR_BODY_LIMIT]


#: The longest file name most file systems take, in bytes.
NAME_MAX = 255


def temporary_name(name: str) -> str:
    """A hidden, unique name for a download in progress beside ``name``, within ``NAME_MAX``
    bytes: the name is cut (on a character boundary) to leave room for the suffix."""
    suffix = f".{secrets.token_hex(4)}.part"
    room = NAME_MAX - 1 - len(suffix)
    stem = name.encode("utf-8", "surrogateescape")[:room].decode("utf-8", "ignore")
    return f".{stem}{suffix}"


def _create(path: pathlib.Path) -> GuardedFile:
    # O_EXCL: never write into a file someone else made; 0o666 lets the umask decide the mode,
    # as for any file the user creates.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    return GuardedFile(open(fd, "wb"), owned=True)


def file_sink(
    destination: pathlib.Path, on_progress: ProgressCallback | None
) -> Sink[pathlib.Path]:
    """A sink that streams the body to a temporary file beside ``destination``, then renames it.

    The file appears under its name only once complete; on any failure the temporary file is
    removed, so nothing half-written is left behind. Writes happen in a worker thread while the
    next bytes arrive.
    """

    async def read(response: aiohttp.ClientResponse) -> pathlib.Path:
        loop = asyncio.get_running_loop()
        total = response.content_length
        temporary = destination.with_name(temporary_name(destination.name))
        try:
            file = await loop.run_in_executor(None, _create, temporary)
        except OSError as exc:
            raise LocalIOError(f"cannot write {destination}: {exc.strerror or exc}") from exc
        pending: asyncio.Future[None] | None = None
        try:
            received = 0
            batch: list[bytes] = []
            batched = 0
            async for chunk in response.content.iter_any():
                batch.append(chunk)
                batched += len(chunk)
                received += len(chunk)
                if batched >= CHUNK_SIZE:
                    if pending is not None:
                        await pending
                    pending = loop.run_in_executor(None, file.write_all, batch)
                    batch, batched = [], 0
                report(on_progress, received, total)
            if pending is not None:
                await pending
            pending = None
            await loop.run_in_executor(None, file.write_all, batch)
            if received == 0:
                report(on_progress, 0, total)
            await loop.run_in_executor(None, file.close)
            await loop.run_in_executor(None, os.replace, temporary, destination)
        except BaseException as exc:
            # NOTE: cleanup runs here, on the loop's thread, with no await: it is quick system
            # calls on an error path, and must happen whatever else is interrupted.
            forget(pending)
            with contextlib.suppress(OSError):
                file.close()
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if isinstance(exc, OSError) and not isinstance(exc, aiohttp.ClientError):
                raise LocalIOError(f"writing {destination} failed: {exc}") from exc
            raise
        return destination

    return read


def _write_all(stream: IO[bytes], chunk: bytes) -> None:
    stream.write(chunk)
    stream.flush()


def stream_sink(stream: IO[bytes], on_progress: ProgressCallback | None) -> Sink[None]:
    """A sink that writes the body to a binary file object (stdout, a pipe, an open file) as it
    arrives, from the object's position, without closing it.

    NOTE: bytes written cannot be taken back, so a connection that breaks once some were
    written ends the call (an ``APIConnectionError`` that is not retried); before that, the
    request is retried as any other.
    """

    async def read(response: aiohttp.ClientResponse) -> None:
        loop = asyncio.get_running_loop()
        total = response.content_length
        received = 0
        chunks = response.content.iter_any()
        while True:
            try:
                chunk = await anext(chunks, b"")
            except (aiohttp.ClientError, TimeoutError) as exc:
                if received == 0:
                    raise
                error = APITimeoutError if isinstance(exc, TimeoutError) else APIConnectionError
                raise error(
                    f"the download broke off after {received} bytes were written to the "
                    f"stream, which cannot be rewound, so it is not retried ({exc or 'timeout'})"
                ) from exc
            if not chunk:
                break
            try:
                await loop.run_in_executor(None, _write_all, stream, chunk)
            except (OSError, ValueError) as exc:  # ValueError: the object is closed
                message = exc.strerror if isinstance(exc, OSError) else None
                raise LocalIOError(f"writing the content failed: {message or exc}") from exc
            received += len(chunk)
            report(on_progress, received, total)
        if received == 0:
            report(on_progress, 0, total)

    return read
