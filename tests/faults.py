"""A scriptable HTTP server on loopback, for what the local Files API server won't do on demand.

Its role is narrow. It answers what no real server sends when asked: a non-JSON 200, a
redirect, crafted headers and error bodies (a request id, rate limits, a key echoed back). It
keeps a byte-exact record of what reached the wire (headers, bodies, how many requests), which
a real server does not expose. And it is a sink that stores nothing, for uploads measured by
memory alone. Faults on the way to a real server (statuses retried with Retry-After, resets,
dropped or lost responses, stalls, truncations, delays) are made by
``aikit_files.testing.FaultProxy`` in front of the local server instead (the ``proxy``
fixture): what the server then holds shows what each attempt did.

It is a real ``aiohttp.web`` server (no patched library): each request it receives takes the next
scripted ``Fault`` (or the default answer once the script runs out), and every request is recorded,
so a test can assert what reached the wire, or that nothing did::

    async with FaultServer() as server:
        server.script(respond(302, headers={"Location": "http://elsewhere/"}))
        client = af.AsyncClient("sk-test", base_url=server.openai_base_url)
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

import attrs
from aiohttp import web

API_KEY = "sk-fault"
#: How much of each request body the server keeps for the test to look at.
KEPT_BODY = 1024 * 1024

#: A minimal File object, the default answer to any request.
FILE = {
    "id": "file-abc123",
    "object": "file",
    "bytes": 5,
    "created_at": 1_700_000_000,
    "filename": "a.txt",
    "purpose": "assistants",
    "status": "processed",
}


@attrs.define
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    """The body's first ``KEPT_BODY`` bytes, as far as the handler read it."""
    size: int = 0
    """The body's length, as far as the handler read it."""


Fault = Callable[[web.Request, Recorded], Awaitable[web.StreamResponse]]


async def _read_body(request: web.Request, recorded: Recorded) -> None:
    # NOTE: only a prefix is kept, so that a big upload costs the server no memory.
    kept = bytearray()
    async for chunk in request.content.iter_any():
        recorded.size += len(chunk)
        if len(kept) < KEPT_BODY:
            kept += chunk[: KEPT_BODY - len(kept)]
    recorded.body = bytes(kept)


def respond(
    status: int = 200,
    json: object = FILE,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> Fault:
    """Reads the whole request body, then answers with ``json`` (or the raw ``body``)."""

    async def fault(request: web.Request, recorded: Recorded) -> web.StreamResponse:
        await _read_body(request, recorded)
        if body is not None:
            return web.Response(status=status, body=body, headers=headers)
        return web.json_response(json, status=status, headers=headers)

    return fault


class FaultServer:
    """The server; use it as ``async with FaultServer() as server``.

    Only for what the local server cannot do on demand (crafted answers, a record of the wire,
    a sink): see the module's docstring. Faults in front of a real server are FaultProxy's.
    """

    def __init__(self, default: Fault | None = None) -> None:
        self.requests: list[Recorded] = []
        self._default = default or respond()
        self._script: collections.deque[Fault] = collections.deque()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The root URL, e.g. ``http://127.0.0.1:43123``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """The ``base_url`` of an OpenAI client."""
        return self.url + "/v1"

    def script(self, *faults: Fault) -> None:
        """Queues what the next requests get, one fault each, in order."""
        self._script.extend(faults)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        recorded = Recorded(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
        )
        self.requests.append(recorded)
        fault = self._script.popleft() if self._script else self._default
        return await fault(request, recorded)

    async def __aenter__(self) -> FaultServer:
        app = web.Application(client_max_size=2**40)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def client_options(server: FaultServer, **options: Any) -> dict[str, Any]:
    """Arguments of an ``AsyncClient`` talking to ``server``."""
    return {"api_key": API_KEY, "base_url": server.openai_base_url, **options}
