"""Streaming with constant memory and a responsive event loop, whatever the file's size, on
asyncio's loop (an upload by sendfile) and on uvloop (an upload read ahead)."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import pathlib
import threading
import tracemalloc
from collections.abc import Iterator

import pytest
from faults import FaultServer, client_options
from loops import LOOPS, expected_way, ways

import aikit_files as af
from aikit_files.server import ServerThread

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024


@pytest.fixture(params=LOOPS)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """Each test runs on asyncio's loop and on uvloop."""
    return request.param


def sparse_file(path: pathlib.Path, size: int) -> pathlib.Path:
    """A file of ``size`` zero bytes that takes no disk space."""
    with path.open("wb") as file:
        file.truncate(size)
    return path


class Heartbeat:
    """A task that ticks every few milliseconds and records how late each tick was."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.period
            await asyncio.sleep(self.period)
            self.worst = max(self.worst, loop.time() - expected)

    def __enter__(self) -> Heartbeat:
        self._task = asyncio.get_running_loop().create_task(self._beat())
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()


class ReadsRecorded(io.RawIOBase):
    """A file object of zeros that records the thread of each read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.position = 0
        self.threads: set[int] = set()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = offset if whence == io.SEEK_SET else self.size + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def read(self, size: int = -1) -> bytes:
        self.threads.add(threading.get_ident())
        count = max(0, min(self.size - self.position, size if size >= 0 else self.size))
        self.position += count
        return bytes(count)


async def test_no_read_happens_on_the_loops_thread(local_server: ServerThread) -> None:
    source = ReadsRecorded(16 * MiB)
    async with af.AsyncClient(local_server.api_key, base_url=local_server.openai_base_url) as c:
        created = await c.files.create(source, "assistants", filename="zeros.bin")
    assert created.bytes == 16 * MiB
    assert source.threads
    assert threading.get_ident() not in source.threads


async def test_the_loop_keeps_running_during_a_64_mib_upload(
    local_server: ServerThread, tmp_path: pathlib.Path
) -> None:
    path = sparse_file(tmp_path / "big.bin", 64 * MiB)
    async with af.AsyncClient(local_server.api_key, base_url=local_server.openai_base_url) as c:
        with Heartbeat() as heartbeat:
            created = await c.files.create(path, "assistants")
    assert created.bytes == 64 * MiB
    # NOTE: a generous bound (timings are noisy here): it catches a loop held for the whole
    # upload, not a few milliseconds; that reads run off the loop is checked above, exactly.
    assert heartbeat.worst < 1.0, f"the event loop stalled for {heartbeat.worst * 1000:.1f} ms"
    # Nothing is left but the source and the one stored file.
    assert sorted(os.listdir(tmp_path)) == ["big.bin", "data"]
    assert os.listdir(tmp_path / "data" / "tmp") == []
    assert sorted(os.listdir(tmp_path / "data" / "files")) == [created.id, f"{created.id}.json"]


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


async def peak_of_upload(server: FaultServer, path: pathlib.Path) -> int:
    async with af.AsyncClient(**client_options(server)) as client:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        await client.files.create(path, "assistants")
        return tracemalloc.get_traced_memory()[1] - before


@pytest.mark.usefixtures("traced")
async def test_upload_memory_does_not_grow_with_the_file(
    fault_server: FaultServer,
    tmp_path: pathlib.Path,
    anyio_backend: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, "aikit_files")
    small = await peak_of_upload(fault_server, sparse_file(tmp_path / "s.bin", 8 * MiB))
    large = await peak_of_upload(fault_server, sparse_file(tmp_path / "l.bin", 128 * MiB))
    assert fault_server.requests[-1].size > 128 * MiB
    # NOTE: the fault server runs in this process and keeps 1 MiB of each body; it counts too.
    # A few chunks in flight, the same for 8 and 128 MiB: never the file.
    for peak in (small, large):
        assert peak < 8 * MiB, f"peaks {small / MiB:.1f} MiB then {large / MiB:.1f} MiB"
    assert ways(caplog) == [expected_way(anyio_backend)] * 2


@pytest.mark.usefixtures("traced")
async def test_download_memory_does_not_grow_with_the_file(
    local_server: ServerThread, tmp_path: pathlib.Path
) -> None:
    path = sparse_file(tmp_path / "big.bin", 64 * MiB)
    async with af.AsyncClient(local_server.api_key, base_url=local_server.openai_base_url) as c:
        created = await c.files.create(path, "assistants")
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        target = await c.files.download(created.id, tmp_path / "copy.bin")
        peak = tracemalloc.get_traced_memory()[1] - before
    assert target.stat().st_size == 64 * MiB
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"
    # No partial download beside the copy, no partial upload on the server.
    assert sorted(os.listdir(tmp_path)) == ["big.bin", "copy.bin", "data"]
    assert os.listdir(tmp_path / "data" / "tmp") == []
