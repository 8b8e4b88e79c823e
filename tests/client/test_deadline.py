"""``Timeout(total=...)`` is a deadline for the whole call: set once when the call starts, it
bounds every request of it (Parts and complete of a large upload, polls, retries, lookups); a
call past it ends in ``APITimeoutError`` saying so, and what it started is cleaned up."""

from __future__ import annotations

import asyncio
import os
import pathlib
import time
from typing import Any

import pytest

import aikit_files as af
from aikit_files._deadline import within_total
from aikit_files.server import ServerThread
from aikit_files.testing import Delay, FaultProxy, LoseResponse, Respond, Rule

from .conftest import server_files

pytestmark = pytest.mark.anyio

PART = 64 * 1024
#: 10 Parts of 64 KiB and one shorter, one at a time.
LARGE: dict[str, Any] = {"upload_threshold": 256 * 1024, "part_size": PART, "max_concurrency": 1}
CONTENT = os.urandom(10 * PART + 777)


async def test_a_large_upload_ends_at_its_total_deadline(
    local_server: ServerThread, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    # Each Part takes 0.3 s through the slow proxy: 11 of them take 3.3 s, each well within
    # the total of 1 s that, given to each request alone, let the call succeed.
    source = tmp_path / "big.bin"
    source.write_bytes(CONTENT)
    proxy.add_rule(Rule(Delay(0.3), method="POST", path="/v1/uploads/"))
    timeout = af.Timeout(connect=5, read=5, write=5, total=1.0)
    async with af.AsyncClient(
        local_server.api_key, base_url=proxy.url + "/v1", timeout=timeout
    ) as client:
        began = time.monotonic()
        with pytest.raises(af.APITimeoutError, match=r"total time limit of 1.0 s"):
            await client.files.create(source, "user_data", **LARGE)
        took = time.monotonic() - began
    assert took < 4.0, f"the call went on for {took:.1f} s past a deadline of 1 s"
    sent = [e.path.partition("?")[0].rsplit("/", 1)[-1] for e in proxy.exchanges]
    assert "complete" not in sent
    assert sent[-1] == "cancel"  # the Upload was cancelled
    assert await server_files(local_server) == {}


async def test_polling_ends_at_the_total_deadline(tmp_path: pathlib.Path) -> None:
    # An Azure file stays pending for 30 s; max_wait would let the polls go on far longer
    # than the call's total of 0.5 s.
    with ServerThread(tmp_path / "azure", api_key="az", processing_delay=30.0) as azure:
        async with af.AsyncClient("az", base_url=azure.azure_endpoint, provider="azure") as c:
            made = await c.files.create(b'{"a": 1}\n', "batch", filename="b.jsonl")
            began = time.monotonic()
            with pytest.raises(af.APITimeoutError, match=r"total time limit of 0.5 s"):
                await c.files.wait_for_processing(
                    made.id, poll_interval=0.05, max_wait=60, timeout=af.Timeout(total=0.5)
                )
            assert time.monotonic() - began < 4.0


async def test_the_retries_of_all_the_parts_share_one_deadline(
    local_server: ServerThread, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    # Each Part's first attempt is a 500 asking for 0.3 s: each Part alone ends well within the
    # total of 1.5 s, the 11 of them, one after another, do not.
    source = tmp_path / "big.bin"
    source.write_bytes(CONTENT)
    busy = Respond(500, retry_after_ms=300)
    proxy.add_rule(Rule(busy, method="POST", path="/v1/uploads/", ordinal=range(1, 23, 2)))
    timeout = af.Timeout(connect=5, read=5, write=5, total=1.5)
    async with af.AsyncClient(
        local_server.api_key, base_url=proxy.url + "/v1", timeout=timeout
    ) as client:
        began = time.monotonic()
        # NOTE: a retry that could not end before the deadline is not started: the call ends
        # then, on the 500, or at the deadline itself.
        with pytest.raises((af.InternalServerError, af.APITimeoutError)):
            await client.files.create(source, "user_data", **LARGE)
        took = time.monotonic() - began
    assert took < 4.5, f"the call went on for {took:.1f} s past a deadline of 1.5 s"
    assert await server_files(local_server) == {}


async def test_the_lookup_after_a_lost_answer_counts_against_the_calls_deadline(
    local_server: ServerThread, proxy: FaultProxy
) -> None:
    proxy.add_rule(Rule(LoseResponse(), method="POST", path="/v1/files", ordinal=1))
    proxy.add_rule(Rule(Delay(3.0), method="GET", path="/v1/files"))
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        began = time.monotonic()
        with pytest.raises(af.APITimeoutError, match=r"total time limit of 1.0 s"):
            await client.files.create(b"y", "user_data", timeout=af.Timeout(total=1.0))
        assert time.monotonic() - began < 2.9  # the lookup alone is held 3 s


async def test_a_request_outside_a_call_keeps_its_deadline_to_itself(
    local_server: ServerThread, proxy: FaultProxy
) -> None:
    # A page of iterate runs in the caller's task; its deadline must not stay behind there, to
    # cut short the retries of the next page read in that task.
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        await client.files.create(b"x", "user_data")
        assert len([f async for f in client.files.iterate(timeout=af.Timeout(total=0.3))]) == 1
        await asyncio.sleep(0.35)  # past that deadline
        proxy.add_rule(Rule(Respond(500, retry_after_ms=50), method="GET", ordinal=1))
        assert len([f async for f in client.files.iterate(timeout=af.Timeout(total=5))]) == 1
    assert [e.status for e in proxy.exchanges][-2:] == [500, 200]


async def _fails() -> None:
    raise ValueError("a Part failed")


async def _cleans_up_after_a_failed_group() -> None:
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(_fails())
            group.create_task(asyncio.sleep(5))
    except* ValueError:
        pass
    await asyncio.sleep(5)  # cleaning up (cancelling an Upload) when the deadline passes


async def test_the_deadline_passing_after_a_failed_task_group_is_a_timeout() -> None:
    # The group leaves its cancellation of this task counted; asyncio.timeout alone then lets
    # the deadline's cancellation through as a bare CancelledError (found by a large upload
    # whose Parts failed just before its deadline).
    call = asyncio.ensure_future(within_total(_cleans_up_after_a_failed_group(), 0.1))
    with pytest.raises(af.APITimeoutError, match=r"total time limit of 0.1 s"):
        await call
