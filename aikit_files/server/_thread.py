"""``ServerThread``: the server on loopback, in a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import os
import threading
from types import TracebackType
from typing import Any

from aiohttp import web

from ._app import create_app


class ServerThread:
    """Runs the local Files API server in a background thread, for tests and scripts.

    ::

        with ServerThread(tmp_path, api_key="sk-test") as server:
            client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test")

    Args:
        data_dir: Where the server keeps its files.
        api_key: The only key accepted; None accepts any non-empty key.
        host: The address to listen on.
        port: The port to listen on; 0 picks a free one, kept across restarts (see ``port``).
        **app_options: Further options of ``create_app``.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        **app_options: Any,
    ):
        self.data_dir = data_dir
        self.host = host
        self.port = port
        #: The key the server accepts (None: any non-empty key).
        self.api_key = api_key
        self._app_options = app_options
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:43123``."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """The ``base_url`` of an OpenAI client: the root URL with ``/v1``."""
        return f"{self.url}/v1"

    @property
    def azure_endpoint(self) -> str:
        """The ``azure_endpoint`` of an Azure client: the root URL."""
        return self.url

    def start(self) -> ServerThread:
        """Starts serving; returns once the server accepts connections.

        Raises:
            RuntimeError: it is already running.
            Exception: whatever stopped the server from starting (a bad data directory, a port
                in use, ...).
        """
        if self._thread is not None:
            raise RuntimeError("the server is already running")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="aikit-files-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise self._error
        return self

    def stop(self) -> None:
        """Stops serving, waits for the server's cleanup; a no-op when not running."""
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join()
        self._thread = None

    def __enter__(self) -> ServerThread:
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
        app = create_app(self.data_dir, api_key=self.api_key, **self._app_options)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self.port = runner.addresses[0][1]
            self._ready.set()
            await self._stopping.wait()
        finally:
            await runner.cleanup()
