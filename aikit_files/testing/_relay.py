"""The ``FaultProxy``'s application: forwards each request to the upstream, streaming bodies both
ways, and applies the fault its rule chose (reset, answer, delay, stall, truncate, lose)."""

from __future__ import annotations

import asyncio
import http
import json
import socket
import struct
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, Final

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from aikit_files.server._errors import ApiError
from aikit_files.server._flavours import OPENAI
from aikit_files.server._http import awaits_continue, start_body

from ._faults import Delay, Fault, LoseResponse, Reset, Respond, Stall, Truncate
from ._ledger import Flight, Ledger

#: Bytes read from a body at a time, either way.
CHUNK: Final = 256 * 1024

#: Headers that describe one connection, not the message (RFC 9110, 7.6.1), never forwarded.
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
#: Request headers the proxy sets itself: ``Host`` names the upstream, and ``100 Continue`` is
#: answered by the proxy (see ``_continue``).
_REQUEST_OWN: Final = frozenset({"host", "expect"})
#: Headers aiohttp's client would add to a request that the client did not send.
_NOT_ADDED: Final = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


class Relay:
    """The proxy's application: lives in the proxy thread's loop."""

    def __init__(self, upstream: URL, ledger: Ledger):
        self._prefix = f"{upstream.origin()}{upstream.raw_path.rstrip('/')}"
        self._ledger = ledger
        self._session: aiohttp.ClientSession | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.cleanup_ctx.append(self._lifetime)
        app.on_shutdown.append(self._cut_off)
        app.router.add_route("*", "/{tail:.*}", self._handle, expect_handler=_no_continue_yet)
        return app

    async def _lifetime(self, app: web.Application) -> AsyncIterator[None]:
        tracing = aiohttp.TraceConfig()
        tracing.on_request_headers_sent.append(_on_headers_sent)
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None),
            auto_decompress=False,
            skip_auto_headers=_NOT_ADDED,
            cookie_jar=aiohttp.DummyCookieJar(),
            trace_configs=[tracing],
        ) as session:
            self._session = session
            yield

    async def _cut_off(self, app: web.Application) -> None:
        # NOTE: a stalled request would otherwise hold the shutdown until the client gives up.
        for task in list(self._handlers):
            task.cancel()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            return await self._serve(request)
        finally:
            self._handlers.discard(task)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        flight = self._ledger.open(request.method, request.raw_path)
        fault = flight.fault
        if isinstance(fault, Reset):
            await _receive(request, flight, fault.after_bytes)
            _reset(request)
            return web.Response()  # never sent: the connection is gone
        if isinstance(fault, Respond):
            return await _answer(request, flight, _respond(fault))
        if isinstance(fault, Delay):
            await asyncio.sleep(fault.seconds)
        return await self._forward(request, flight, fault)

    async def _forward(
        self, request: web.Request, flight: Flight, fault: Fault | None
    ) -> web.StreamResponse:
        assert self._session is not None
        held = fault if isinstance(fault, Stall) and fault.where == "request" else None
        body = _body(request, flight, held) if request.body_exists else None
        try:
            upstream = await self._session.request(
                request.method,
                URL(self._prefix + request.raw_path, encoded=True),
                headers=_end_to_end(request.headers, _REQUEST_OWN),
                data=body,
                allow_redirects=False,
                trace_request_ctx=flight,
            )
        except aiohttp.ClientError as error:
            return await _answer(request, flight, _bad_gateway(self._prefix, error))
        async with upstream:
            flight.upstream_answered(upstream.status)
            try:
                if isinstance(fault, LoseResponse):
                    while await upstream.content.read(CHUNK):
                        pass
                    _hang_up(request)
                    return web.Response()  # never sent: the connection is closed
                cut = fault if isinstance(fault, Truncate | Stall) and held is None else None
                return await _relay(request, flight, upstream, cut)
            except (aiohttp.ClientError, ConnectionError):
                # The upstream broke off mid-body (or the client left): the client must not
                # take what it got for a whole response.
                _reset(request)
                return web.Response()


async def _on_headers_sent(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    flight = context.trace_request_ctx
    if isinstance(flight, Flight):
        flight.forwarded()


async def _no_continue_yet(request: web.Request) -> None:
    """The route's ``expect_handler``: aiohttp's default sends ``100 Continue`` at once; the
    proxy sends it only when it starts reading the body (see ``_continue``)."""


def _awaits_continue(request: web.Request) -> bool:
    return request.version >= aiohttp.HttpVersion11 and awaits_continue(request)


async def _continue(request: web.Request) -> None:
    """Tells a client that waits for ``100 Continue`` to send its body."""
    if request.version >= aiohttp.HttpVersion11:
        await start_body(request)


async def _receive(request: web.Request, flight: Flight, limit: int | None = None) -> None:
    """Reads (and discards) the request body, or its first ``limit`` bytes."""
    if limit == 0 or not request.body_exists:
        return
    await _continue(request)
    received = 0
    while limit is None or received < limit:
        size = CHUNK if limit is None else min(CHUNK, limit - received)
        chunk = await request.content.read(size)
        if not chunk:
            return
        received += len(chunk)
        flight.received(len(chunk))


async def _body(request: web.Request, flight: Flight, held: Stall | None) -> AsyncIterator[bytes]:
    """The request body, as it comes from the client, held back as ``held`` says."""
    await _continue(request)
    received = 0
    while True:
        if held is not None and received >= held.after_bytes:
            if not request.content.at_eof():
                await _pause(held.seconds)
            held = None
        size = CHUNK if held is None else min(CHUNK, held.after_bytes - received)
        chunk = await request.content.read(size)
        if not chunk:
            return
        received += len(chunk)
        flight.received(len(chunk))
        yield chunk


async def _relay(
    request: web.Request,
    flight: Flight,
    upstream: aiohttp.ClientResponse,
    cut: Truncate | Stall | None,
) -> web.StreamResponse:
    """Sends the upstream's response to the client, cut or stalled after ``cut.after_bytes``."""
    response = web.StreamResponse(
        status=upstream.status,
        reason=upstream.reason,
        headers=_end_to_end(upstream.headers),
    )
    flight.answered(upstream.status)
    await response.prepare(request)
    before = cut.after_bytes if cut is not None else None
    while chunk := await upstream.content.read(CHUNK):
        if before is not None and len(chunk) >= before:
            if before:
                await response.write(chunk[:before])
            if isinstance(cut, Truncate):
                _hang_up(request)
                return response
            assert cut is not None
            await _pause(cut.seconds)
            chunk, before = chunk[before:], None
        elif before is not None:
            before -= len(chunk)
        if chunk:
            await response.write(chunk)
    if before is not None:  # the body was shorter than the bytes to let through
        if isinstance(cut, Truncate):
            _hang_up(request)
            return response
        assert cut is not None
        await _pause(cut.seconds)
    await response.write_eof()
    return response


async def _pause(seconds: float | None) -> None:
    """Waits ``seconds``, or (None) until the handler is cancelled: the client left, or the
    proxy is closing."""
    if seconds is not None:
        await asyncio.sleep(seconds)
    else:
        await asyncio.get_running_loop().create_future()


async def _answer(
    request: web.Request, flight: Flight, response: web.Response
) -> web.StreamResponse:
    """Answers with ``response`` in a way the client will read, even while it sends a body."""
    if _awaits_continue(request):
        # The client holds its body back until told to send it: answer now, and close, so
        # that neither side waits for a body that will not come.
        flight.answered(response.status)
        response.force_close()
        await response.prepare(request)
        await response.write_eof()
        _hang_up(request)
        return response
    # NOTE: the whole body is read first. A client that is still sending (an upload) and
    # gets a close, or an answer it does not read until it has sent everything (httpx), would
    # see a broken connection rather than the status.
    await _receive(request, flight)
    flight.answered(response.status)
    return response


def _respond(fault: Respond) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict()
    body = fault.body
    if body is None:
        try:
            phrase = http.HTTPStatus(fault.status).phrase
        except ValueError:
            phrase = "Injected"
        error = ApiError(fault.status, f"{phrase} (a fault injected by FaultProxy).")
        body = json.dumps(OPENAI.error_body(error)).encode()
        headers["Content-Type"] = "application/json"
    if fault.retry_after is not None:
        headers["Retry-After"] = _retry_after_text(fault.retry_after)
    if fault.retry_after_ms is not None:
        headers["retry-after-ms"] = str(fault.retry_after_ms)
    for name, value in fault.headers:
        headers[name] = value
    return web.Response(status=fault.status, body=body, headers=headers)


def _retry_after_text(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _bad_gateway(upstream: str, error: aiohttp.ClientError) -> web.Response:
    detail = str(error) or type(error).__name__
    body = OPENAI.error_body(ApiError(502, f"FaultProxy could not reach {upstream}: {detail}"))
    return web.json_response(body, status=502)


def _end_to_end(
    headers: CIMultiDictProxy[str], own: frozenset[str] = frozenset()
) -> CIMultiDict[str]:
    """The headers that describe the message, without those of the connection."""
    named = {
        token.strip().lower()
        for value in headers.getall("Connection", ())
        for token in value.split(",")
    }
    kept: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        lowered = name.lower()
        if lowered not in _HOP_BY_HOP and lowered not in named and lowered not in own:
            kept.add(name, value)
    return kept


def _hang_up(request: web.Request) -> None:
    """Closes the client's connection once what was written is sent (a FIN)."""
    request.protocol.force_close()


def _reset(request: web.Request) -> None:
    """Resets the client's connection: with a zero linger time, closing the socket sends an
    RST and drops whatever was not yet sent."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
