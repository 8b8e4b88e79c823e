"""create_many against a server that takes N uploads at once and answers 429 beyond: the batch
slows down by itself, no file fails, none is made twice."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Iterator

import attrs
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

import aikit_files as af
from aikit_files.server import create_app
from aikit_files.server._connections import FilesRunner
from aikit_files.server._runner import AppThread

pytestmark = pytest.mark.anyio

KEY = "sk-test-pacing"


@attrs.define
class Gate:
    """What the server saw: uploads at once now and at most, and how many it refused."""

    allowed: int
    now: int = 0
    peak: int = 0
    refused: int = 0
    accepted: int = 0


def limited_app(data_dir: pathlib.Path, gate: Gate) -> web.Application:
    """The local server, taking at most ``gate.allowed`` uploads at once."""
    app = create_app(data_dir, api_key=KEY)

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (request.method, request.path) != ("POST", "/v1/files"):
            return await handler(request)
        if gate.now >= gate.allowed:
            gate.refused += 1
            await request.read()
            return web.json_response(
                {"error": {"message": "Rate limit reached", "type": "requests", "code": None}},
                status=429,
                headers={"Retry-After": "0.05"},
            )
        gate.now += 1
        gate.peak = max(gate.peak, gate.now)
        try:
            # A server that takes its time: without it, uploads on loopback hardly overlap.
            await asyncio.sleep(0.02)
            response = await handler(request)
            gate.accepted += 1
            return response
        finally:
            gate.now -= 1

    app.middlewares.append(limit)
    return app


@pytest.fixture
def gate() -> Gate:
    return Gate(allowed=2)


@pytest.fixture
def limited(tmp_path: pathlib.Path, gate: Gate) -> Iterator[str]:
    """The base URL of the limited server."""
    thread = AppThread(lambda: limited_app(tmp_path / "data", gate), runner_class=FilesRunner)
    with thread:
        yield thread.url + "/v1"


async def test_a_429_storm_slows_the_batch_and_nothing_fails_or_doubles(
    limited: str, gate: Gate, tmp_path: pathlib.Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(40):
        (src / f"{i:02}.txt").write_bytes(b"%d" % i * 100)
    async with af.AsyncClient(KEY, base_url=limited) as client:
        result = await client.files.create_many([src], "assistants", concurrency=8)
        assert result.success, result.errors
        assert result.created == 40
        held = [f async for f in client.files.iterate(purpose="assistants")]
    assert sorted(f.filename for f in held) == sorted(f"{i:02}.txt" for i in range(40))
    assert gate.accepted == 40
    assert gate.peak <= gate.allowed
    # The first burst is refused; then the batch keeps to what the server takes: far fewer
    # refusals than files (8 at once would be refused 3 times in 4).
    assert 0 < gate.refused < 40


async def test_without_a_listener_the_same_storm_fails_files(
    limited: str, gate: Gate, tmp_path: pathlib.Path
) -> None:
    """The control: the same uploads in a plain gather of 8, each retrying on its own."""
    async with af.AsyncClient(KEY, base_url=limited) as client:
        semaphore = asyncio.Semaphore(8)

        async def one(i: int) -> bool:
            async with semaphore:
                try:
                    await client.files.create(b"%d" % i, "assistants", filename=f"{i}.txt")
                except af.RateLimitError:
                    return False
                return True

        outcomes = await asyncio.gather(*(one(i) for i in range(40)))
    assert not all(outcomes)
