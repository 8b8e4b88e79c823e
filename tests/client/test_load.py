"""Many calls at once through one client: all succeed, and the connection pool stays bounded."""

from __future__ import annotations

import asyncio
import os

import psutil
import pytest

import aikit_files as af
from aikit_files._transport import CONNECTION_LIMIT
from aikit_files.server import ServerThread

UPLOADS = 500


def established(port: int) -> int:
    """This process's established TCP connections to ``port`` (the client's side only: the
    server runs in this process too, and its side has ``port`` as its local port)."""
    return sum(
        1
        for c in psutil.Process().net_connections("tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


@pytest.mark.anyio
async def test_500_concurrent_uploads_through_one_client(local_server: ServerThread) -> None:
    """500 small uploads started at once all land, each with its own bytes, over at most
    ``CONNECTION_LIMIT`` (100) connections: the session the client makes for itself has that
    limit, so a burst waits for connections instead of opening a socket per call."""
    port = int(local_server.url.rsplit(":", 1)[1])
    blobs = [os.urandom(100 + i) for i in range(UPLOADS)]
    counts: list[int] = []
    done = asyncio.Event()

    async def count_connections() -> None:
        while not done.is_set():
            counts.append(established(port))
            await asyncio.sleep(0.005)

    async with af.AsyncClient(local_server.api_key, base_url=local_server.openai_base_url) as c:
        counter = asyncio.create_task(count_connections())
        try:
            created = await asyncio.gather(
                *(
                    c.files.create(blob, "assistants", filename=f"f{i}.bin")
                    for i, blob in enumerate(blobs)
                ),
                return_exceptions=True,
            )
            failed = [r for r in created if isinstance(r, BaseException)]
            assert failed == []
            files = [f for f in created if isinstance(f, af.OpenAIFile)]
            contents = await asyncio.gather(*(c.files.content(f.id) for f in files))
        finally:
            done.set()
            await counter
    assert len({f.id for f in files}) == UPLOADS
    for i, (file, blob, content) in enumerate(zip(files, blobs, contents, strict=True)):
        assert (file.filename, file.bytes, file.purpose) == (f"f{i}.bin", len(blob), "assistants")
        assert content == blob
    # The calls queue for the pool's connections instead of opening one each; the pool did fill
    # (the counter samples every 5 ms, so it may see less than the peak, never more).
    assert max(counts) <= CONNECTION_LIMIT
    assert max(counts) > CONNECTION_LIMIT // 2
    assert established(port) == 0
