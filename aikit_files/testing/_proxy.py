"""``FaultProxy``: a reverse proxy on loopback, in a thread of its own, that injects faults.

The proxy is an ``aiohttp.web`` application served by the server's runner (``AppThread``), with
one ``aiohttp.ClientSession`` to the upstream; both live in the proxy thread's event loop, so a
test's own loop (or its lack of one) never matters. Bodies stream both ways in chunks.
"""

from __future__ import annotations

import asyncio
import http
import json
import socket
import struct
import threading
from collections.abc import AsyncIterator, Awaitable, Generator, Iterable
from types import SimpleNamespace, TracebackType
from typing import Any, Final, Self

import aiohttp
import attrs
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from aikit_files.server._errors import ApiError
from aikit_files.server._flavours import OPENAI
from aikit_files.server._http import awaits_continue, start_body
from aikit_files.server._runner import AppThread, root_url

from ._faults import Delay, Fault, LoseResponse, Reset, Respond, Rule, Stall, Truncate

#: Bytes read from a body at a time, either way.
CHUNK: Final = 256 * 1024
#: How long ``close()`` lets a request in flight end before it is cut off (a backstop: the
#: proxy cancels its own handlers first).
SHUTDOWN_TIMEOUT: Final = 1.0

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


@attrs.frozen
class Exchange:
    """One request the proxy received, and what became of it."""

    ordinal: int
    """The request's number among all the requests the proxy received, from 1."""
    method: str
    """The request's method."""
    path: str
    """The request target: the path and the query, as sent."""
    fault: Fault | None
    """The fault applied, or None if the request was forwarded as is."""
    request_bytes: int = 0
    """How many bytes of the request body the proxy received from the client."""
    forwarded: bool = False
    """Whether the request was sent to the upstream."""
    upstream_status: int | None = None
    """The status the upstream answered, or None if it did not answer."""
    status: int | None = None
    """The status sent to the client, or None if it got no status line."""


@attrs.define
class _Armed:
    """A rule, and how many requests have matched its method and path so far."""

    rule: Rule
    seen: int = 0


class _Ledger:
    """The rules and the exchanges, shared by the caller's threads and the proxy's loop."""

    def __init__(self, rules: Iterable[Rule]):
        self._lock = threading.Lock()
        self._armed = [_Armed(_checked(rule)) for rule in rules]
        self._exchanges: list[Exchange] = []

    def add(self, rule: Rule) -> None:
        with self._lock:
            self._armed.append(_Armed(_checked(rule)))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def rules(self) -> tuple[Rule, ...]:
        with self._lock:
            return tuple(armed.rule for armed in self._armed)

    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def open(self, method: str, target: str) -> _Flight:
        """Records a new request, and picks its fault."""
        with self._lock:
            fault: Fault | None = None
            # NOTE: every rule that matches counts the request, even when an earlier rule
            # applies, so that an ordinal means "the n-th such request" whatever the other
            # rules do.
            for armed in self._armed:
                if armed.rule.matches(method, target):
                    armed.seen += 1
                    chosen = armed.rule.ordinal is None or armed.seen in armed.rule.ordinal
                    if fault is None and chosen:
                        fault = armed.rule.fault
            index = len(self._exchanges)
            self._exchanges.append(Exchange(index + 1, method, target, fault))
        return _Flight(self, index, fault)

    def update(self, index: int, **changes: Any) -> None:
        with self._lock:
            self._exchanges[index] = attrs.evolve(self._exchanges[index], **changes)

    def count(self, index: int, size: int) -> None:
        """Adds ``size`` bytes to what the request's body brought."""
        with self._lock:
            exchange = self._exchanges[index]
            self._exchanges[index] = attrs.evolve(
                exchange, request_bytes=exchange.request_bytes + size
            )


def _checked(rule: Rule) -> Rule:
    if not isinstance(rule, Rule):
        raise TypeError(f"a rule must be a Rule, not {type(rule).__name__}")
    return rule


@attrs.define
class _Flight:
    """The handle of one exchange in the ledger, through which its handler records it.

    Each change is recorded before the client can see its effect, so that a test that has
    seen the effect finds it in ``exchanges``.
    """

    ledger: _Ledger
    index: int
    fault: Fault | None
    """The fault picked for it when it was recorded."""

    def received(self, size: int) -> None:
        self.ledger.count(self.index, size)

    def forwarded(self) -> None:
        self.ledger.update(self.index, forwarded=True)

    def upstream_answered(self, status: int) -> None:
        self.ledger.update(self.index, upstream_status=status)

    def answered(self, status: int) -> None:
        self.ledger.update(self.index, status=status)


class _Done:
    """What ``close()`` returns: already complete, so that ``await proxy.close()`` works too."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, Any, None]:
        return
        yield  # a generator, that ends at once


class FaultProxy:
    """A reverse proxy on loopback in front of one upstream, that injects faults.

    Point a client at ``proxy.url`` (with ``/v1`` for an OpenAI client) instead of the
    upstream. A request that no rule selects is forwarded as is, its bodies streamed both ways;
    the first rule that selects a request applies its fault. Every request is recorded in
    ``exchanges``.

    The proxy runs in a background thread with its own event loop: it serves sync and async
    tests alike. Use it as ``with`` or ``async with``, or call ``start()`` and ``close()``
    (both may be awaited too).

    It speaks plain HTTP/1.1 to its clients (no TLS, no upgrades) and HTTP or HTTPS to the
    upstream. Headers are kept but for those of the connection (``Connection``,
    ``Keep-Alive``, ``Proxy-*``, ``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade``, and
    those ``Connection`` names); ``Host`` names the upstream. A chunked request body is
    forwarded chunked. The proxy answers ``Expect: 100-continue`` itself, when it starts
    reading the body. Redirects are passed on, never followed, and an upstream it cannot reach
    is a 502 with an OpenAI error envelope.

    Args:
        upstream_url: The upstream's root URL, e.g. ``ServerThread.url``; a path in it
            prefixes every forwarded request's path.
        rules: The first rules; more can be added while the proxy runs.
        host: The address to listen on.
        port: The port; 0 picks a free one (kept if the proxy is started again).

    Raises:
        ValueError: ``upstream_url`` is not an absolute http(s) URL without query.
    """

    def __init__(
        self,
        upstream_url: str,
        rules: Iterable[Rule] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        upstream = URL(upstream_url)
        if upstream.scheme not in ("http", "https") or not upstream.host:
            raise ValueError(f"upstream_url must be an http or https URL, got {upstream_url!r}")
        if upstream.query_string or upstream.fragment:
            raise ValueError(f"upstream_url must have no query or fragment: {upstream_url!r}")
        self._upstream_url = upstream_url
        self._upstream = upstream
        self._ledger = _Ledger(rules)
        self._thread = AppThread(
            self._make_app,
            host=host,
            port=port,
            name="aikit-files-fault-proxy",
            handler_cancellation=True,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )

    def __repr__(self) -> str:
        state = f"url={self.url!r}" if self._thread.running else "closed"
        return f"FaultProxy(upstream_url={self._upstream_url!r}, {state})"

    @property
    def upstream_url(self) -> str:
        """The upstream's URL, as given."""
        return self._upstream_url

    @property
    def url(self) -> str:
        """The proxy's root URL, e.g. ``http://127.0.0.1:41234``.

        Raises:
            RuntimeError: the proxy was never started, so it has no port yet.
        """
        port = self._thread.port
        if port == 0:
            raise RuntimeError("the proxy has no port until it is started")
        return root_url(self._thread.host, port)

    @property
    def running(self) -> bool:
        """Whether the proxy is serving."""
        return self._thread.running

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules, in the order they are tried."""
        return self._ledger.rules()

    @property
    def exchanges(self) -> list[Exchange]:
        """Every request received so far, in order of arrival (a snapshot)."""
        return self._ledger.exchanges()

    def add_rule(self, rule: Rule) -> None:
        """Adds a rule after the others; it counts requests (for its ordinal) from now on.

        Safe to call from any thread while the proxy runs.
        """
        self._ledger.add(rule)

    def clear_rules(self) -> None:
        """Removes every rule: requests that come next are forwarded as is."""
        self._ledger.clear()

    def start(self) -> Self:
        """Starts serving; returns the proxy once its socket accepts connections.

        Returns:
            The proxy itself (which may be awaited: ``await proxy.start()`` works too).

        Raises:
            RuntimeError: it is already running.
            OSError: the port is taken.
        """
        self._thread.start()
        return self

    def close(self) -> Awaitable[None]:
        """Stops serving: requests in flight are cut off, and every connection and the session
        to the upstream are closed. A no-op when not running.

        Returns:
            An already completed awaitable, so that ``await proxy.close()`` works too.
        """
        self._thread.stop()
        return _Done()

    def __await__(self) -> Generator[Any, Any, Self]:
        # NOTE: awaiting the proxy changes nothing; it is what makes ``await proxy.start()``
        # work alongside the plain call.
        return self
        yield  # a generator, that ends at once

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)

    def _make_app(self) -> web.Application:
        return _Relay(self._upstream, self._ledger).app()


class _Relay:
    """The proxy's application: lives in the proxy thread's loop."""

    def __init__(self, upstream: URL, ledger: _Ledger):
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
        self, request: web.Request, flight: _Flight, fault: Fault | None
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
    if isinstance(flight, _Flight):
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


async def _receive(request: web.Request, flight: _Flight, limit: int | None = None) -> None:
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


async def _body(request: web.Request, flight: _Flight, held: Stall | None) -> AsyncIterator[bytes]:
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
    flight: _Flight,
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
    request: web.Request, flight: _Flight, response: web.Response
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
