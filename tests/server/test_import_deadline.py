"""``import_timeout``: an import's fetch has one deadline for all of it, which an upstream that
trickles its bytes cannot push back."""

from __future__ import annotations

import asyncio
import pathlib
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from aikit_files.server import ServerThread

from .conftest import API_KEY, API_VERSION, auth, disk, url


@pytest.fixture
async def trickle() -> AsyncIterator[str]:
    """An upstream that sends one byte every 2 seconds (each read well within aiohttp's read
    timeout), on the test's loop."""

    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 100
        await response.prepare(request)
        for _ in range(100):
            await response.write(b"x")
            await asyncio.sleep(2.0)
        return response

    app = web.Application()
    app.router.add_get("/slow.txt", slow)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/slow.txt"
    finally:
        await runner.cleanup()


@pytest.mark.anyio
async def test_an_import_past_its_deadline_ends_in_error(
    trickle: str, tmp_path: pathlib.Path, session: aiohttp.ClientSession
) -> None:
    data_dir = tmp_path / "data"
    with ServerThread(
        data_dir,
        api_key=API_KEY,
        import_timeout=1.0,
        processing_delay=0,
        allow_private_import=True,  # the upstream is on loopback
    ) as server:
        query = {"api-version": API_VERSION}
        started = time.monotonic()
        async with session.post(
            url(server, "azure", "/files/import").with_query(query),
            json={"purpose": "assistants", "filename": "slow.txt", "content_url": trickle},
            headers=auth("azure"),
        ) as response:
            assert response.status == 201
            file_id = (await response.json())["id"]
        for _ in range(200):
            async with session.get(
                url(server, "azure", f"/files/{file_id}").with_query(query), headers=auth("azure")
            ) as response:
                file = await response.json()
            if file["status"] == "error":
                break
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
        assert file["status"] == "error"
        assert "longer than 1 seconds" in file["status_details"]
        assert "import timeout" in file["status_details"]
        assert elapsed < 5.0
        # the partial content is gone
        assert {name for name in disk(data_dir) if name.startswith("tmp/")} == set()
        assert not (data_dir / "files" / file_id).exists()
