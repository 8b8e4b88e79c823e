"""``FaultProxy``: a reverse proxy on loopback, in a thread of its own, that injects faults.

The proxy is an ``aiohttp.web`` application (``_relay.Relay``) served by the server's runner
(``AppThread``), with one ``aiohttp.ClientSession`` to the upstream; both live in the proxy
thread's event loop, so a test's own loop (or its lack of one) never matters. Which request gets
which fault, and the record of each, is the ledger's (``_ledger``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Generator, Iterable
from types import TracebackType
from typing import Any, Final, Self

from aiohttp import web
from yarl import URL

from aikit_files.server._runner import AppThread, root_url

from ._faults import Rule
from ._ledger import Exchange, Ledger
from ._relay import Relay

__all__ = ["Exchange", "FaultProxy"]

#: How long ``close()`` lets a request in flight end before it is cut off (a backstop: the
#: proxy cancels its own handlers first).
SHUTDOWN_TIMEOUT: Final = 1.0


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
        self._ledger = Ledger(rules)
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
        return Relay(self._upstream, self._ledger).app()
