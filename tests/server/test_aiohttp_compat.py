"""The wall around aiohttp's private attributes: each fallback, run by naming an attribute that
does not exist, still serves the API's answers with the server's settings."""

from __future__ import annotations

import asyncio
import json
import pathlib

import pytest
from aiohttp import web

from aikit_files.server import ServerThread, _aiohttp_compat, _connections

from .conftest import API_KEY, check_envelope, raw_answer

MALFORMED = b"GET /v1/files HTTP/9.9.9\r\nHost: x\r\n\r\n"


async def _closed_after_idle(server: ServerThread, seconds: float) -> bool:
    """Whether a connection that sends nothing is closed by the server within ``seconds``."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        async with asyncio.timeout(seconds):
            return await reader.read() == b""
    except TimeoutError:
        return False
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.anyio
@pytest.mark.parametrize("missing", ["_SERVER_LOOP", "_SERVER_KWARGS"])
async def test_without_the_servers_private_arguments_connections_are_still_ours(
    missing: str, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setattr(_aiohttp_compat, missing, "_attribute_aiohttp_dropped")
    with ServerThread(tmp_path / "data", api_key=API_KEY, idle_timeout=0.3) as server:
        head, body = await raw_answer(server, MALFORMED)
        # the server's own arguments still reach the connection: its keep-alive timer
        assert await _closed_after_idle(server, 5.0)
    assert head.split(b" ")[1] == b"400"
    check_envelope("openai", 400, json.loads(body), None)


@pytest.mark.anyio
async def test_where_aiohttp_takes_no_class_of_ours_its_own_answers_stay(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setattr(_connections, "adopt", lambda instance, cls: None)
    with ServerThread(tmp_path / "data", api_key=API_KEY, idle_timeout=0.3) as server:
        head, _ = await raw_answer(server, MALFORMED)
        ok, _ = await raw_answer(
            server,
            f"GET /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n\r\n".encode(),
        )
        assert await _closed_after_idle(server, 5.0)
    assert head.split(b" ")[1] == b"400"
    assert b"application/json" not in head
    assert ok.split(b" ")[1] == b"200"


def test_adopt_refuses_a_class_of_another_layout() -> None:
    class Slotted:
        __slots__ = ("a",)

    class Other:
        __slots__ = ("b",)

    assert _aiohttp_compat.adopt(Slotted(), Other) is None


@pytest.mark.anyio
async def test_the_installed_aiohttp_takes_our_classes() -> None:
    # The fast path and the fallback both rely on it; a red test here is the first sign.
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    server = web.Server(handler)
    assert isinstance(_aiohttp_compat.adopt(server, _connections._Server), _connections._Server)
    assert isinstance(server(), _connections._Connection)
