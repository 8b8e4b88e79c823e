"""One create never leaves two files, even when its answer does not come in time: a request sent
whole may still be carried out after the client gave up on it (found by benchmarks/soak.py)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import pytest

import aikit_files as af
from aikit_files.server import ServerThread
from aikit_files.testing import FaultProxy, LoseResponse, Rule, Stall

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
CONTENT = hashlib.sha256(b"once").digest() * (MiB // 32)  # 1 MiB


async def test_a_create_whose_answer_times_out_is_not_sent_again(
    local_server: ServerThread, proxy: FaultProxy
) -> None:
    # The proxy takes the whole upload (it fits in the sockets' buffers, so the client's read
    # timeout starts) but holds it past that timeout: when the client looks for the file,
    # the server has none yet. Then the proxy forwards it, as a proxy that buffers requests,
    # or a slow server, may do: sending it again would have made a second file.
    held = 1.5
    stall = Stall(after_bytes=64 * 1024, seconds=held, where="request")
    proxy.add_rule(Rule(stall, method="POST", path="/v1/files", ordinal=1))
    timeout = af.Timeout(connect=5, read=0.5, write=5)
    async with af.AsyncClient(
        local_server.api_key, base_url=proxy.url + "/v1", timeout=timeout
    ) as client:
        with pytest.raises(af.APITimeoutError, match="may have carried it out"):
            await client.files.create(CONTENT, "user_data", filename="once.bin")

    await asyncio.sleep(held + 0.5)  # the stall is over: the proxy forwarded the body
    uploads = [e for e in proxy.exchanges if e.method == "POST"]
    assert len(uploads) == 1, "the upload was sent again"
    async with af.AsyncClient(
        local_server.api_key, base_url=local_server.openai_base_url
    ) as direct:
        stored = [f async for f in direct.files.iterate() if f.filename == "once.bin"]
    assert len(stored) <= 1


async def _stream() -> AsyncIterator[bytes]:
    for start in range(0, len(CONTENT), 256 * 1024):
        yield CONTENT[start : start + 256 * 1024]


@pytest.mark.parametrize("source", ["blob", "stream"])
async def test_a_create_whose_answer_is_lost_returns_the_file_the_server_made(
    local_server: ServerThread, proxy: FaultProxy, source: str
) -> None:
    # The server stores the upload; its answer never reaches the client. A blob could be sent
    # again and a stream could not: either way the call finds the file and returns it.
    proxy.add_rule(Rule(LoseResponse(), method="POST", path="/v1/files", ordinal=1))
    progress: list[int] = []
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        made = await client.files.create(
            CONTENT if source == "blob" else _stream(),
            "user_data",
            filename="lost.bin",
            on_progress=lambda sent, total: progress.append(sent),
        )
        stored = [f async for f in client.files.iterate() if f.filename == "lost.bin"]
        assert await client.files.content(made.id) == CONTENT
    assert [f.id for f in stored] == [made.id]
    assert made.bytes == len(CONTENT)
    assert [e.method for e in proxy.exchanges][:2] == ["POST", "GET"]  # the upload, the lookup
    assert progress[-1] == len(CONTENT)
