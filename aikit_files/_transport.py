"""The aiohttp adapter: the session, streamed bodies, timeouts, retries, and the error boundary.

Everything that touches the network or the disk for a call lives here; what to send and how to
read the answers comes from ``_protocol``. This is the one place where exceptions of aiohttp,
``ssl``, ``OSError`` and timeouts become the errors of ``_exceptions``, with the original kept as
``__cause__``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pathlib
import random
import secrets
import ssl
import time
import urllib.request
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import IO, Any, TypeVar

import aiohttp
import attrs
from aiohttp.abc import AbstractStreamWriter

from ._calls import CallState
from ._config import ClientConfig, Timeout
from ._exceptions import (
    AIKitError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
)
from ._limits import MiB
from ._params import Parameters, ProgressCallback
from ._protocol.multipart import MultipartForm
from ._protocol.requests import Endpoint, RequestSpec
from ._protocol.responses import parse_model, redirect_error, status_error
from ._protocol.retry import RetryPolicy
from ._protocol.sources import SourceKind, UploadSource

logger = logging.getLogger("aikit_files")

T = TypeVar("T")

#: Bytes read from a file (or written to one) per step: big enough that the hop to a worker
#: thread is a small cost, small enough that a few of them in flight stay a few MiB.
CHUNK_SIZE = MiB
#: Bytes handed to the socket per write. On Python 3.11 the transport keeps unsent bytes in one
#: buffer that it shifts after every partial send, so a write far larger than what the socket
#: takes at once costs copying that grows with its square; measured on loopback, 128 KiB writes
#: cost the least CPU (1 MiB ones a third more).
WRITE_SIZE = 128 * 1024
#: How much of an error response is read: error bodies are small; a huge one is cut.
ERROR_BODY_LIMIT = MiB
#: How much a response may buffer before aiohttp stops reading from the socket.
READ_BUFFER = 256 * 1024

#: Reads a successful response into a call's value.
ResponseReader = Callable[[aiohttp.ClientResponse], Awaitable[T]]


def _report(on_progress: ProgressCallback | None, done: int, total: int | None) -> None:
    if on_progress is None:
        return
    try:
        on_progress(done, total)
    except Exception:
        logger.exception("on_progress %r raised; the transfer goes on", on_progress)


async def _settle(future: asyncio.Future[Any] | None) -> None:
    """Waits for a worker thread's job to end, so that its file can be closed safely."""
    if future is None:
        return
    await asyncio.wait([future])
    if not future.cancelled():
        # NOTE: mark any exception as retrieved; the caller is already failing for a reason.
        future.exception()


async def _read_file(file: IO[bytes], size: int | None) -> AsyncGenerator[bytes, None]:
    """Reads ``size`` bytes (or to the end, if None) in worker threads, one chunk ahead."""
    loop = asyncio.get_running_loop()
    remaining = size

    def next_read() -> asyncio.Future[bytes] | None:
        if remaining == 0:
            return None
        count = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
        return loop.run_in_executor(None, file.read, count)

    pending = next_read()
    try:
        while pending is not None:
            chunk = await pending
            pending = None
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise AIKitError(
                    f"the file object's read() returned {type(chunk).__name__}, not bytes"
                )
            if not chunk:
                if remaining:
                    raise AIKitError(
                        f"the file ended {remaining} bytes early: it changed during the upload"
                    )
                return
            if remaining is not None:
                remaining -= len(chunk)
            # The next chunk is read while this one is being sent.
            pending = next_read()
            yield chunk
    finally:
        await _settle(pending)


async def _read_source(
    source: UploadSource,
) -> AsyncGenerator[bytes | bytearray | memoryview, None]:
    """The bytes of an upload source, in chunks, with no read on the event loop's thread."""
    loop = asyncio.get_running_loop()
    if source.kind is SourceKind.BLOB:
        view: memoryview = source.value
        for offset in range(0, len(view), CHUNK_SIZE):
            yield view[offset : offset + CHUNK_SIZE]
    elif source.kind is SourceKind.STREAM:
        async for chunk in source.value:
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise AIKitError(f"the async iterable yielded {type(chunk).__name__}, not bytes")
            if chunk:
                yield chunk
    elif source.kind is SourceKind.PATH:
        file: IO[bytes] = await loop.run_in_executor(None, open, source.value, "rb", 0)
        try:
            # NOTE: closed explicitly, so that its read in flight ends before the file closes.
            async with contextlib.aclosing(_read_file(file, source.size)) as chunks:
                async for chunk in chunks:
                    yield chunk
        finally:
            await loop.run_in_executor(None, file.close)
    else:
        if source.seekable:
            await loop.run_in_executor(None, source.value.seek, source.start)
        async with contextlib.aclosing(_read_file(source.value, source.size)) as chunks:
            async for chunk in chunks:
                yield chunk


async def _next_chunk(
    chunks: AsyncIterator[bytes | bytearray | memoryview],
) -> bytes | bytearray | memoryview | None:
    """The next chunk of an upload's source, or None at its end.

    Raises:
        AIKitError: reading the source failed (the file, or the caller's async iterable); the
            original error is its ``__cause__``.
    """
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        return None
    except AIKitError:
        raise
    except Exception as exc:
        raise AIKitError(f"reading the file to upload failed: {exc!r}") from exc


class UploadBody:
    """The multipart body of one ``create`` call, produced afresh for each attempt."""

    def __init__(
        self,
        source: UploadSource,
        form: MultipartForm,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.source = source
        self.form = form
        self.on_progress = on_progress
        self.content_length = form.content_length(source.size)
        self.started = False
        """Whether any attempt began reading the source."""

    def can_send_again(self) -> bool:
        """Whether another attempt can send the whole body from its start."""
        return self.source.replayable or not self.started

    def payload(self, write_timeout: float | None) -> _FormPayload:
        """A payload that sends this body once."""
        return _FormPayload(self, write_timeout)


class _FormPayload(aiohttp.Payload):
    """Streams head, source and tail to aiohttp's writer, each write bounded by ``write``."""

    # NOTE: nothing is held open between attempts: the source is opened inside write().
    _autoclose = True

    def __init__(self, body: UploadBody, write_timeout: float | None) -> None:
        super().__init__(None, content_type=body.form.content_type)
        self._body = body
        self._size = body.content_length
        self._write_timeout = write_timeout
        self.failure: AIKitError | None = None
        """Why sending the body failed, when it failed on our side (source, write timeout)."""

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a streamed upload body cannot be decoded")

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        # NOTE: content_length is ours (the Content-Length header we set), so it is never less
        # than what is written here.
        body = self._body
        try:
            await self._send(writer, body.form.head)
            body.started = True
            sent = 0
            async with contextlib.aclosing(_read_source(body.source)) as chunks:
                while (chunk := await _next_chunk(chunks)) is not None:
                    await self._send(writer, chunk)
                    sent += len(chunk)
                    _report(body.on_progress, sent, body.source.size)
            if sent == 0:
                _report(body.on_progress, 0, body.source.size)
            await self._send(writer, body.form.tail)
        except AIKitError as exc:
            # NOTE: our side failed (the source, or the write timeout); a failed socket write
            # is aiohttp's to report, and stays a connection error.
            self.failure = exc
            raise

    async def _send(
        self, writer: AbstractStreamWriter, data: bytes | bytearray | memoryview
    ) -> None:
        view = memoryview(data)
        try:
            for offset in range(0, len(view), WRITE_SIZE):
                async with asyncio.timeout(self._write_timeout):
                    await writer.write(view[offset : offset + WRITE_SIZE])
        except TimeoutError as exc:
            raise APITimeoutError(
                f"the server accepted no request body bytes for {self._write_timeout} s "
                "(write timeout)"
            ) from exc


def _connection_error(exc: BaseException, timeout: Timeout) -> APIConnectionError:
    """The error a failed attempt is reported as; ``exc`` is kept as its ``__cause__``."""
    error: APIConnectionError
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        error = APITimeoutError(f"connecting to the server took more than {timeout.connect} s")
    elif isinstance(exc, aiohttp.SocketTimeoutError):
        error = APITimeoutError(f"the server sent nothing for {timeout.read} s (read timeout)")
    elif isinstance(exc, TimeoutError):
        error = APITimeoutError(f"the request timed out: {exc}")
    elif isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        error = APIConnectionError(f"TLS with the server failed: {exc}")
    elif isinstance(exc, aiohttp.ClientConnectorError):
        error = APIConnectionError(
            f"cannot connect to {exc.host}:{exc.port}: {exc.os_error.strerror or exc.os_error}"
        )
    elif isinstance(exc, aiohttp.ServerDisconnectedError):
        error = APIConnectionError("the server closed the connection without a full response")
    elif isinstance(exc, aiohttp.ClientPayloadError):
        error = APIConnectionError(f"the response body was cut short: {exc}")
    elif isinstance(exc, aiohttp.ClientResponseError):
        # NOTE: not chained: its request_info holds the request's headers, the key among them.
        # With redirects off and statuses read by us, only a proxy's refusal gets here.
        error = APIConnectionError(f"HTTP {exc.status} from a proxy or gateway: {exc.message}")
        error.__suppress_context__ = True
        return error
    else:
        error = APIConnectionError(f"connection error: {exc or type(exc).__name__}")
    error.__cause__ = exc
    return error


async def _error_body(response: aiohttp.ClientResponse) -> bytes:
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


def json_reader(cls: type[T]) -> ResponseReader[T]:
    """A reader that builds a ``cls`` model from the response's JSON."""

    async def read(response: aiohttp.ClientResponse) -> T:
        return parse_model(await response.read(), cls, response.headers)

    return read


async def read_bytes(response: aiohttp.ClientResponse) -> bytes:
    """A reader that returns the whole body."""
    return await response.read()


def _write_chunks(file: IO[bytes], chunks: list[bytes]) -> None:
    for chunk in chunks:
        file.write(chunk)


def file_writer(
    destination: pathlib.Path, on_progress: ProgressCallback | None
) -> ResponseReader[pathlib.Path]:
    """A reader that streams the body to a temporary file beside ``destination``, then renames it.

    The file appears under its name only once complete; on any failure the temporary file is
    removed, so nothing half-written is left behind. Writes happen in a worker thread while the
    next bytes arrive.
    """

    async def read(response: aiohttp.ClientResponse) -> pathlib.Path:
        loop = asyncio.get_running_loop()
        total = response.content_length
        # The name is cut, so that a long destination name leaves room for the suffix.
        temporary = destination.with_name(f".{destination.name[:200]}.{secrets.token_hex(4)}.part")
        file = await loop.run_in_executor(None, _create, temporary)
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
                    pending = loop.run_in_executor(None, _write_chunks, file, batch)
                    batch, batched = [], 0
                _report(on_progress, received, total)
            if pending is not None:
                await pending
            pending = None
            await loop.run_in_executor(None, _write_chunks, file, batch)
            if received == 0:
                _report(on_progress, 0, total)
            await loop.run_in_executor(None, file.close)
            await loop.run_in_executor(None, os.replace, temporary, destination)
        except BaseException as exc:
            await _settle(pending)
            # NOTE: cleanup runs here, on the loop's thread, even when cancelled: it is two quick
            # system calls on an error path, and must happen whatever else is interrupted.
            with contextlib.suppress(OSError):
                file.close()
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if isinstance(exc, OSError) and not isinstance(exc, aiohttp.ClientError):
                raise AIKitError(f"writing {destination} failed: {exc}") from exc
            raise
        return destination

    return read


def _create(path: pathlib.Path) -> IO[bytes]:
    # O_EXCL: never write into a file someone else made; 0o666 lets the umask decide the mode,
    # as for any file the user creates.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    return open(fd, "wb")


@attrs.frozen
class _CallSettings:
    timeout: Timeout
    policy: RetryPolicy


class Transport:
    """Sends the requests of one client over one aiohttp session, owned or borrowed."""

    def __init__(self, config: ClientConfig, session: aiohttp.ClientSession | None = None) -> None:
        self.config = config
        self.endpoint = Endpoint(config)
        self._session = session
        self._owns_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._policy = RetryPolicy(max_retries=config.max_retries)

    def _client_session(self) -> aiohttp.ClientSession:
        # NOTE: the session is made on first use, inside the running loop: a client may be built
        # before any loop runs, and an aiohttp session belongs to the loop it was made in.
        loop = asyncio.get_running_loop()
        if self._closed:
            raise ClientClosedError("the client is closed; no new request can start")
        if self._loop is not None and self._loop is not loop:
            raise RuntimeError(
                "this client was first used in another event loop; make one client per loop"
            )
        self._loop = loop
        if self._session is None:
            # NOTE: proxy variables are honoured (as httpx does) only when some are set: with
            # trust_env, aiohttp looks up proxies and ~/.netrc in a worker thread on every
            # request, which tripled the cost of a small call on loopback.
            self._session = aiohttp.ClientSession(trust_env=bool(urllib.request.getproxies()))
        return self._session

    async def aclose(self) -> None:
        """Closes the session if this transport made it; a borrowed one is left open."""
        self._closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()

    def _redact(self, body: bytes) -> bytes:
        """An error body with the API key blotted out, should the server have echoed it."""
        key = self.config.api_key
        return body.replace(key.encode(), b"[redacted]") if key else body

    def _settings(self, params: Parameters) -> _CallSettings:
        timeout = self.config.timeout if params.timeout is None else Timeout.coerce(params.timeout)
        policy = self._policy
        if params.max_retries is not None:
            policy = attrs.evolve(policy, max_retries=params.max_retries)
        return _CallSettings(timeout=timeout, policy=policy)

    async def request(
        self,
        spec: RequestSpec,
        params: Parameters,
        state: CallState,
        read: ResponseReader[T],
        body: UploadBody | None = None,
    ) -> T:
        """Sends a request, with retries, and reads the successful response with ``read``.

        Args:
            spec: what to send.
            params: the call's parameters (timeout, retries, extra headers).
            state: receives the headers of each response.
            read: turns the successful response into the call's value.
            body: the upload, for ``POST /files``.

        Raises:
            APIStatusError: the server answered 4xx or 5xx (after any retries).
            APIConnectionError: no usable response (``APITimeoutError`` for a time limit).
            APIError: the response could not be read as expected.
            AIKitError: the upload's source could not be read.
        """
        settings = self._settings(params)
        deadline = asyncio.timeout(settings.timeout.total)
        try:
            async with deadline:
                return await self._attempts(
                    spec, params, settings, state, read, body, deadline.when()
                )
        except TimeoutError as exc:
            # NOTE: each attempt turns its own timeouts into ours; this is the deadline's.
            if not deadline.expired():
                raise
            raise APITimeoutError(
                f"the call took more than its total time limit of {settings.timeout.total} s"
            ) from exc

    async def _attempts(
        self,
        spec: RequestSpec,
        params: Parameters,
        settings: _CallSettings,
        state: CallState,
        read: ResponseReader[T],
        body: UploadBody | None,
        deadline: float | None,
    ) -> T:
        session = self._client_session()
        loop = asyncio.get_running_loop()
        timeout = settings.timeout
        client_timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=timeout.connect, sock_read=timeout.read
        )
        headers = {**spec.headers, **(params.extra_headers or {})}
        retries = 0
        while True:
            payload = None if body is None else body.payload(timeout.write)
            try:
                async with session.request(
                    spec.method,
                    spec.url,
                    params=spec.query,
                    headers=headers,
                    data=payload,
                    timeout=client_timeout,
                    read_bufsize=READ_BUFFER,
                    # NOTE: never follow a redirect: aiohttp keeps custom headers (Azure's
                    # api-key) across origins, and the API has no reason to redirect.
                    allow_redirects=False,
                    # A borrowed session may raise on statuses itself; we read them.
                    raise_for_status=False,
                ) as response:
                    state.observe(response.headers)
                    if 300 <= response.status < 400:
                        raise redirect_error(response.status, response.headers)
                    if response.status >= 400:
                        raise status_error(
                            response.status,
                            response.headers,
                            self._redact(await _error_body(response)),
                            response.reason,
                        )
                    return await read(response)
            except APIStatusError as exc:
                error: AIKitError = exc
                retryable = settings.policy.should_retry_status(exc.status_code, exc.headers)
                response_headers = exc.headers
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                if payload is not None and payload.failure is not None:
                    error = payload.failure
                else:
                    error = _connection_error(exc, timeout)
                retryable = isinstance(error, APIConnectionError)
                response_headers = None
            if not retryable or (body is not None and not body.can_send_again()):
                raise error
            delay = settings.policy.delay(
                retries, response_headers, now=time.time(), rand=random.random()
            )
            if delay is None or (deadline is not None and loop.time() + delay >= deadline):
                raise error
            logger.info("retrying %s %s in %.2f s after: %s", spec.method, spec.url, delay, error)
            await asyncio.sleep(delay)
            retries += 1
