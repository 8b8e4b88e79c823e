"""The streamed body of a request: a form's head, its source's bytes, its tail, written to
aiohttp's writer in bounded socket writes, each limited by the write timeout.

The file part of a file on disk goes by the kernel's ``sendfile`` instead (no copy through
Python) when the connection is plain TCP and the event loop has ``loop.sendfile``; otherwise
(TLS, uvloop, a blob, a file object, a stream) its chunks are read ahead in worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import IO

import aiohttp
from aiohttp.abc import AbstractStreamWriter

from aikit_files._compat import traces_each_chunk
from aikit_files._exceptions import APITimeoutError
from aikit_files._limits import MiB
from aikit_files._params import ProgressCallback
from aikit_files._protocol.recovery import may_send_again
from aikit_files._protocol.requests import FormBody
from aikit_files._protocol.sources import SourceKind

from .guarded import CAN_PREFETCH, GuardedFile
from .reading import Chunk, ended_early, forget, read_failed, read_source

logger = logging.getLogger("aikit_files")

#: Bytes handed to the socket per write. On Python 3.11 the transport keeps unsent bytes in one
#: buffer that it shifts after every partial send, so a write far larger than what the socket
#: takes at once costs copying that grows with its square; measured on loopback, 128 KiB writes
#: cost the least CPU (1 MiB ones a third more).
WRITE_SIZE = 128 * 1024

#: The first ``sendfile`` slice, and the smallest: what one read-ahead write must move within
#: the write timeout, so that sendfile asks no more of a slow link.
MIN_SLICE = WRITE_SIZE
#: The largest ``sendfile`` slice. Each slice costs a few loop round trips (the transport's
#: reader paused and resumed, futures, a timeout, a prefetch job). Measured on loopback, the
#: call's CPU for 512 MiB (medians of 9 to 11 interleaved runs): read-ahead 0.18 s; sendfile in
#: slices of at most 4 MiB 0.095 s, 8 MiB 0.08 s, 16 MiB 0.077 s, 32 MiB 0.074 s.
MAX_SLICE = 16 * MiB
#: How long a slice should take at the rate the link has shown so far (a quarter of the write
#: timeout when that is shorter), so that a slice that overruns the write timeout is one that
#: stalled, and progress is reported a few times a second on a slow link.
SLICE_SECONDS = 0.25


def next_slice(previous: int, sent: int, elapsed: float, write_timeout: float | None) -> int:
    """The size of the next ``sendfile`` slice.

    At most twice the previous one (a first slice that only fills the socket's buffer is no
    proof of a fast link), and no more than the link carried, on average so far, in
    ``SLICE_SECONDS`` (or a quarter of ``write_timeout``); within ``MIN_SLICE..MAX_SLICE``.

    Args:
        previous: the size of the last slice.
        sent: the bytes sent by sendfile so far.
        elapsed: the seconds that took.
        write_timeout: the limit on each slice; None for none.
    """
    size = 2 * previous
    if elapsed > 0:
        seconds = SLICE_SECONDS if write_timeout is None else min(SLICE_SECONDS, write_timeout / 4)
        carried = sent / elapsed * seconds
        if carried < size:
            size = int(carried)
    return max(MIN_SLICE, min(MAX_SLICE, size))


#: The largest write that goes without a write timeout (see ``fits_unpaused``).
UNPAUSED_WRITE = 16 * 1024


def fits_unpaused(transport: asyncio.WriteTransport | None, size: int) -> bool:
    """Whether a write of ``size`` bytes (and the request's headers, which aiohttp sends with
    the first write) to ``transport``, whose buffer is empty, leaves it under its high-water
    mark: the transport does not pause its writer, so the write cannot wait. The headers would
    need to pass 48 KiB (servers refuse over 8) to change that."""
    if transport is None or transport.is_closing() or transport.get_write_buffer_size():
        return False
    return size <= UNPAUSED_WRITE and transport.get_write_buffer_limits()[1] >= 4 * UNPAUSED_WRITE


def sendfile_refusal(writer: AbstractStreamWriter, body: FormBody) -> str | None:
    """Why the file part of ``body`` cannot go by ``loop.sendfile`` on ``writer``'s
    connection; None when it can."""
    if body.source.kind is not SourceKind.PATH:
        return f"the source is a {body.source.kind.value}, not a file on disk"
    if not body.length:
        return "the file part is empty"
    if type(asyncio.get_running_loop()).sendfile is asyncio.AbstractEventLoop.sendfile:
        # uvloop, for one: its loop.sendfile raises NotImplementedError.
        return "the event loop has no sendfile"
    transport = writer.transport
    if transport is None or transport.is_closing():
        return "the connection is closing"
    if transport.get_extra_info("sslcontext") is not None:
        return "the connection is TLS (encrypted in user space)"
    if getattr(writer, "chunked", False):
        return "the body is sent chunked"
    if traces_each_chunk(writer):
        # NOTE: a trace of the session (on_request_chunk_sent) or an upload tracker is told of
        # every chunk written; bytes sent by the kernel would pass them by.
        return "the session traces each chunk of the body"
    return None


class Prefetch:
    """Brings a file's next bytes into the page cache in worker threads, ahead of ``sendfile``.

    The kernel then makes the pages, and starts their disk reads, in the worker thread rather
    than inside ``sendfile`` on the loop's thread: without it, a file not yet in the cache
    stalled the event loop for 20 to 80 ms at a time (a 64 MiB upload on loopback). One request
    at a time. The price, for a file already cached, is the kernel looking its pages up once
    more: about 0.015 s of a worker thread's CPU for 512 MiB.

    Args:
        file: the file.
        start: where the bytes to send start.
        end: where they end.
    """

    def __init__(self, file: GuardedFile, start: int, end: int) -> None:
        self._file = file
        self._ahead = start
        """The bytes before this one have been asked for."""
        self._end = end
        self._pending: asyncio.Future[None] | None = None

    def start(self, limit: int) -> asyncio.Future[None] | None:
        """Asks for the bytes not yet asked for, up to ``limit``, unless a request is on."""
        limit = min(limit, self._end)
        if not CAN_PREFETCH or self._ahead >= limit:
            return None
        if self._pending is not None:
            if not self._pending.done():
                return None
            self._pending.result()
        self._pending = asyncio.get_running_loop().run_in_executor(
            None, self._file.prefetch, self._ahead, limit - self._ahead
        )
        self._ahead = limit
        return self._pending

    async def until(self, limit: int) -> None:
        """Asks for the bytes up to ``limit``, and waits until their reads have started."""
        pending = self.start(limit)
        if pending is not None:
            await pending

    def stop(self) -> None:
        """Lets a request still on end on its own, its file guarded; no await."""
        forget(self._pending)


def report(on_progress: ProgressCallback | None, done: int, total: int | None) -> None:
    """Calls ``on_progress``; one that raises is logged and the transfer goes on."""
    if on_progress is None:
        return
    try:
        on_progress(done, total)
    except Exception:
        logger.exception("on_progress %r raised; the transfer goes on", on_progress)


class FormSender:
    """Sends one form body, once per attempt, and remembers what the attempts did.

    Args:
        body: the form to send.
        on_progress: told of the bytes of the file part sent, attempt by attempt.
    """

    def __init__(self, body: FormBody, on_progress: ProgressCallback | None = None) -> None:
        self.body = body
        self.on_progress = on_progress
        self.started = False
        """Whether any attempt began reading the source."""

    def can_send_again(self) -> bool:
        """Whether another attempt can send the whole body from its start."""
        return may_send_again(replayable=self.body.source.replayable, started=self.started)

    def payload(self, write_timeout: float | None) -> FormPayload:
        """A payload that sends the body once."""
        return FormPayload(self, write_timeout)


class FormPayload(aiohttp.Payload):
    """Streams head, source and tail to aiohttp's writer, each write bounded by ``write``.

    An error of ours (the source, the write timeout) propagates from ``write``; aiohttp keeps it
    as the ``__cause__`` of the connection error it reports, where the transport finds it.
    """

    def __init__(self, sender: FormSender, write_timeout: float | None) -> None:
        super().__init__(None, content_type=sender.body.content_type)
        self._sender = sender
        self._length = sender.body.content_length
        self._write_timeout = write_timeout
        self.complete = False
        """Whether the whole body was handed to the socket."""

    @property
    def size(self) -> int | None:
        """The body's length (aiohttp's ``Content-Length``); None for a stream, sent chunked."""
        return self._length

    @property
    def autoclose(self) -> bool:
        """True: nothing is held open between attempts (the source is opened inside write())."""
        return True

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a streamed upload body cannot be decoded")

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        # NOTE: content_length is ours (the Content-Length header we set), so it is never less
        # than what is written here.
        # NOTE: taken now: aiohttp may close the connection, and forget its transport, before
        # this task learns that it is cancelled.
        transport = writer.transport
        try:
            await self._write_body(writer)
        except BaseException:
            # NOTE: a request cut short (a cancellation, the source, the network) can never be
            # finished: drop the connection at once. A graceful close would keep the socket
            # open until a stalled peer took the bytes still buffered, and over TLS on uvloop
            # outlived the loop.
            if transport is not None:
                transport.abort()
            raise

    async def _write_body(self, writer: AbstractStreamWriter) -> None:
        sender = self._sender
        body = sender.body
        small = self._length is not None and self._length <= WRITE_SIZE
        if small and body.source.kind is SourceKind.BLOB:
            await self._write_at_once(writer)
            return
        # The head goes through aiohttp's writer, which sends the request's headers with it.
        await self._send(writer, body.form.head)
        sender.started = True
        # NOTE: the way the file part goes is chosen here, before any of its bytes is sent, and
        # kept to its end.
        refusal = sendfile_refusal(writer, body)
        if refusal is not None:
            logger.debug("the file part goes by read-ahead: %s", refusal)
        if refusal is not None or not await self._send_file(writer):
            await self._send_read_ahead(writer)
        await self._send(writer, body.form.tail)
        self.complete = True

    async def _send_read_ahead(self, writer: AbstractStreamWriter) -> None:
        """Sends the file part in chunks read one ahead by worker threads."""
        sender = self._sender
        body = sender.body
        sent = 0
        chunks = read_source(body.source, body.offset, body.length)
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                await self._send(writer, chunk)
                sent += len(chunk)
                report(sender.on_progress, sent, body.length)
        if sent == 0:
            report(sender.on_progress, 0, body.length)

    async def _send_file(self, writer: AbstractStreamWriter) -> bool:
        """Sends the file part with ``loop.sendfile``, in slices (see ``next_slice``), each
        limited by the write timeout and followed by a progress report.

        Returns:
            False if the loop turned out to have no native sendfile before any byte of the
            part was sent: the caller sends it another way.
        """
        sender = self._sender
        body = sender.body
        assert body.length  # see sendfile_refusal
        transport = writer.transport
        assert transport is not None
        await self._flush(writer, transport)
        logger.debug("the file part goes by sendfile: %d bytes", body.length)
        start = position = body.offset
        end = start + body.length
        try:
            # NOTE: opened on the loop's thread, and closed in the finally below without an
            # await: an await in between could be cancelled and leave the file open.
            file = GuardedFile(open(body.source.value, "rb", 0), owned=True)  # noqa: ASYNC230, SIM115
        except OSError as exc:
            raise read_failed(exc) from exc
        prefetch = Prefetch(file, start, end)
        try:
            await prefetch.until(start + MIN_SLICE)
            loop = asyncio.get_running_loop()
            size = MIN_SLICE
            began = loop.time()
            while position < end:
                count = min(size, end - position)
                prefetch.start(position + count + MAX_SLICE)
                try:
                    sent = await self._send_slice(transport, file.raw, position, count)
                except (asyncio.SendfileNotAvailableError, NotImplementedError) as exc:
                    if position == start:
                        logger.debug("the file part goes by read-ahead: no sendfile (%r)", exc)
                        return False
                    # NOTE: asyncio reports so a send that failed at a slice's first byte.
                    transport.abort()
                    raise ConnectionError(f"sendfile failed: {exc}") from exc
                position += sent
                if sent < count:
                    # NOTE: the body can no longer be whole: the connection is of no more use.
                    transport.abort()
                    raise ended_early(end - position)
                report(sender.on_progress, position - start, body.length)
                size = next_slice(size, position - start, loop.time() - began, self._write_timeout)
            return True
        finally:
            # NOTE: no await here: a second cancellation would skip the close.
            prefetch.stop()
            file.close()

    async def _send_slice(
        self, transport: asyncio.WriteTransport, file: IO[bytes], offset: int, count: int
    ) -> int:
        """Sends ``count`` bytes of ``file`` from ``offset`` with ``loop.sendfile``, within the
        write timeout; returns the bytes sent (fewer at the file's end)."""
        deadline = asyncio.timeout(self._write_timeout)
        try:
            async with deadline:
                return await asyncio.get_running_loop().sendfile(
                    transport, file, offset, count, fallback=False
                )
        except TimeoutError as exc:
            if deadline.expired():
                raise self._timed_out(transport) from exc
            transport.abort()
            raise
        except OSError:
            # The socket failed: a write through the transport would have closed it too.
            transport.abort()
            raise

    async def _flush(self, writer: AbstractStreamWriter, transport: asyncio.WriteTransport) -> None:
        """Waits, within the write timeout, until the transport's buffer is empty: sendfile
        writes to the socket past it, and asyncio's would wait for that itself, in a way that
        a cancellation leaves the transport unusable."""
        if not transport.get_write_buffer_size():
            return
        low, high = transport.get_write_buffer_limits()
        # With no room at all, the transport pauses its writer until its buffer is empty.
        transport.set_write_buffer_limits(high=0, low=0)
        deadline = asyncio.timeout(self._write_timeout)
        try:
            async with deadline:
                await writer.drain()
        except TimeoutError as exc:
            if deadline.expired():
                raise self._timed_out(transport) from exc
            raise
        finally:
            transport.set_write_buffer_limits(high=high, low=low)

    async def _write_at_once(self, writer: AbstractStreamWriter) -> None:
        """Sends a small body in memory in one write.

        aiohttp holds the request's headers until the first write, so headers, head, file and
        tail leave in one system call and one TCP segment, where a write of each part cost three
        of them.
        """
        sender = self._sender
        body = sender.body
        assert body.length is not None  # the body's size is known: it is small
        sender.started = True
        view: memoryview = body.source.value[body.offset : body.offset + body.length]
        data = b"".join((body.form.head, view, body.form.tail))
        if fits_unpaused(writer.transport, len(data)):
            # NOTE: the transport takes it without pausing its writer, so the write cannot
            # wait, and needs no write timeout; the read timeout starts once it is handed over.
            await writer.write(data)
        else:
            await self._send(writer, data)
        report(sender.on_progress, body.length, body.length)
        self.complete = True

    async def _send(self, writer: AbstractStreamWriter, data: Chunk) -> None:
        view = memoryview(data)
        try:
            for offset in range(0, len(view), WRITE_SIZE):
                async with asyncio.timeout(self._write_timeout):
                    await writer.write(view[offset : offset + WRITE_SIZE])
        except TimeoutError as exc:
            raise self._timed_out(writer.transport) from exc

    def _timed_out(self, transport: asyncio.WriteTransport | None) -> APITimeoutError:
        """Aborts the connection, and returns the error of a write timeout."""
        # NOTE: the peer takes no more bytes: close the connection at once (a graceful close
        # would wait for the unsent bytes, and the socket would stay half-open).
        if transport is not None:
            transport.abort()
        return APITimeoutError(
            f"the server accepted no request body bytes for {self._write_timeout} s (write timeout)"
        )
