"""The streamed body of a request: a form's head, its source's bytes, its tail, written to
aiohttp's writer in bounded socket writes, each limited by the write timeout."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
from aiohttp.abc import AbstractStreamWriter

from aikit_files._exceptions import APITimeoutError
from aikit_files._params import ProgressCallback
from aikit_files._protocol.requests import FormBody
from aikit_files._protocol.sources import SourceKind

from .reading import Chunk, read_source

logger = logging.getLogger("aikit_files")

#: Bytes handed to the socket per write. On Python 3.11 the transport keeps unsent bytes in one
#: buffer that it shifts after every partial send, so a write far larger than what the socket
#: takes at once costs copying that grows with its square; measured on loopback, 128 KiB writes
#: cost the least CPU (1 MiB ones a third more).
WRITE_SIZE = 128 * 1024


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
        return self.body.source.replayable or not self.started

    def payload(self, write_timeout: float | None) -> FormPayload:
        """A payload that sends the body once."""
        return FormPayload(self, write_timeout)


class FormPayload(aiohttp.Payload):
    """Streams head, source and tail to aiohttp's writer, each write bounded by ``write``.

    An error of ours (the source, the write timeout) propagates from ``write``; aiohttp keeps it
    as the ``__cause__`` of the connection error it reports, where the transport finds it.
    """

    # NOTE: nothing is held open between attempts: the source is opened inside write().
    _autoclose = True

    def __init__(self, sender: FormSender, write_timeout: float | None) -> None:
        super().__init__(None, content_type=sender.body.content_type)
        self._sender = sender
        self._size = sender.body.content_length
        self._write_timeout = write_timeout
        self.complete = False
        """Whether the whole body was handed to the socket."""

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a streamed upload body cannot be decoded")

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        # NOTE: content_length is ours (the Content-Length header we set), so it is never less
        # than what is written here.
        sender = self._sender
        body = sender.body
        small = self._size is not None and self._size <= WRITE_SIZE
        if small and body.source.kind is SourceKind.BLOB:
            await self._write_at_once(writer)
            return
        await self._send(writer, body.form.head)
        sender.started = True
        sent = 0
        chunks = read_source(body.source, body.offset, body.length)
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                await self._send(writer, chunk)
                sent += len(chunk)
                report(sender.on_progress, sent, body.length)
        if sent == 0:
            report(sender.on_progress, 0, body.length)
        await self._send(writer, body.form.tail)
        self.complete = True

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
        await self._send(writer, b"".join((body.form.head, view, body.form.tail)))
        report(sender.on_progress, body.length, body.length)
        self.complete = True

    async def _send(self, writer: AbstractStreamWriter, data: Chunk) -> None:
        view = memoryview(data)
        try:
            for offset in range(0, len(view), WRITE_SIZE):
                async with asyncio.timeout(self._write_timeout):
                    await writer.write(view[offset : offset + WRITE_SIZE])
        except TimeoutError as exc:
            # NOTE: the peer takes no more bytes: close the connection at once (a graceful close
            # would wait for the unsent bytes, and the socket would stay half-open).
            transport = getattr(writer, "transport", None)
            if transport is not None:
                transport.abort()
            raise APITimeoutError(
                f"the server accepted no request body bytes for {self._write_timeout} s "
                "(write timeout)"
            ) from exc
