"""What becomes of connections when things go wrong: a write timeout aborts its connection, and
``max_retries`` counts every attempt (aiohttp's own silent resend is off)."""

from __future__ import annotations

import gc
import pathlib

import psutil
import pytest

import aikit_files as af
from aikit_files.server import ServerThread
from aikit_files.testing import FaultProxy, LoseResponse, Reset, Rule, Stall

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024


def established_to(port: int) -> int:
    return sum(
        1
        for c in psutil.Process().net_connections("tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


async def test_a_write_timeout_aborts_the_connection(
    local_server: ServerThread, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    # The proxy stops reading the body: more than the sockets' buffers hold cannot be sent.
    proxy.add_rule(Rule(Stall(after_bytes=MiB, where="request"), method="POST"))
    port = int(proxy.url.rsplit(":", 1)[1])
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * (32 * MiB))
    timeout = af.Timeout(connect=5, read=5, write=0.5)
    async with af.AsyncClient(
        local_server.api_key, base_url=proxy.url + "/v1", timeout=timeout, max_retries=0
    ) as client:
        with pytest.raises(af.APITimeoutError, match="write timeout"):
            await client.files.create(source, "user_data")
        # Aborted at once, not closed gracefully with 30 MiB still queued.
        assert established_to(port) == 0
    gc.collect()  # an unclosed transport would warn here, and warnings are errors


@pytest.mark.parametrize("fault", [Reset(), LoseResponse()])
async def test_max_retries_zero_means_one_attempt(
    local_server: ServerThread, proxy: FaultProxy, fault: Reset | LoseResponse
) -> None:
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        await client.files.list()  # a pooled connection, which the fault then breaks
        proxy.add_rule(Rule(fault, method="GET"))
        with pytest.raises(af.APIConnectionError):
            await client.files.list(max_retries=0)
    assert [e.fault for e in proxy.exchanges] == [None, fault]
