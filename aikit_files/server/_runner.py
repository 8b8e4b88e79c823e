"""Runs an aiohttp application on a socket: in the caller's loop, or in a background thread.

One runner serves the command line (``aikit-files serve``), ``ServerThread`` and the testing
helpers, so that start-up, the bound address and shutdown are written once.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Self

from aiohttp import web


@contextlib.asynccontextmanager
async def serving(
    app: web.Application,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    runner_class: type[web.AppRunner] = web.AppRunner,
    **runner_options: Any,
) -> AsyncIterator[tuple[str, int]]:
    """Serves ``app`` on ``host:port`` until the block exits; yields the bound host and port.

    Args:
        app: the application.
        host: the address to listen on.
        port: the port; 0 picks a free one.
        ssl_context: serve HTTPS with this context.
        runner_class: the runner: ``aiohttp.web.AppRunner`` or a subclass.
        **runner_options: options of ``aiohttp.web.AppRunner`` (``access_log``, ...).
    """
    runner_options.setdefault("access_log", None)
    runner = runner_class(app, **runner_options)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield bound_host, bound_port
    finally:
        await runner.cleanup()


def root_url(host: str, port: int) -> str:
    """The plain-HTTP root URL of ``host`` (an IPv6 address in brackets) and ``port``."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class AppThread:
    """Serves an application in a background thread, with an event loop of its own.

    The application is made inside that loop (``make_app`` is called there), so everything it
    creates belongs to the loop that serves it.

    Args:
        make_app: builds the application.
        host: the address to listen on.
        port: the port; 0 picks a free one, which is then kept across restarts.
        name: the thread's name.
        ssl_context: serve HTTPS with this context.
        runner_class: the runner: ``aiohttp.web.AppRunner`` or a subclass.
        **runner_options: options of ``aiohttp.web.AppRunner``, as for ``serving()``.
    """

    def __init__(
        self,
        make_app: Callable[[], web.Application],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "aikit-files-app",
        ssl_context: ssl.SSLContext | None = None,
        runner_class: type[web.AppRunner] = web.AppRunner,
        **runner_options: Any,
    ):
        self.host = host
        self.port = port
        self._make_app = make_app
        self._name = name
        self._ssl_context = ssl_context
        self._runner_class = runner_class
        self._runner_options = runner_options
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The root URL, e.g. ``http://127.0.0.1:43123``."""
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the thread is serving."""
        return self._thread is not None

    def start(self) -> Self:
        """Starts serving; returns once the socket accepts connections.

        Raises:
            RuntimeError: it is already running.
            Exception: whatever stopped the application from starting (a port in use, ...).
        """
        if self._thread is not None:
            raise RuntimeError("already running")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise self._error
        return self

    def stop(self) -> None:
        """Stops serving and waits for the application's cleanup; a no-op when not running."""
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join()
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported to start(), which re-raises it
            self._error = error
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        app = self._make_app()
        async with serving(
            app,
            self.host,
            self.port,
            ssl_context=self._ssl_context,
            runner_class=self._runner_class,
            **self._runner_options,
        ) as address:
            self.port = address[1]
            self._ready.set()
            await self._stopping.wait()
