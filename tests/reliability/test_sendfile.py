"""An upload whose peer stops reading, by sendfile (asyncio's loop) or by read-ahead (uvloop): a
write timeout aborts the connection, and a cancellation leaves no file open and no socket."""

from __future__ import annotations

import asyncio
import gc
import logging
import pathlib

import psutil
import pytest
from loops import LOOPS, expected_way, ways

import aikit_files as af
from aikit_files.server import ServerThread
from aikit_files.testing import FaultProxy, Rule, Stall
from reliability.conftest import Held

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
#: More than the socket buffers between the client and a proxy that stopped reading can hold.
SIZE = 64 * MiB


@pytest.fixture(params=LOOPS)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """Each test runs on asyncio's loop and on uvloop."""
    return request.param


@pytest.fixture
def stalled(proxy: FaultProxy) -> FaultProxy:
    """The proxy, reading no more of a request body after its first MiB."""
    proxy.add_rule(Rule(Stall(after_bytes=MiB, where="request"), method="POST"))
    return proxy


@pytest.fixture
def big_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "upload" / "big.bin"
    path.parent.mkdir()
    with path.open("wb") as file:
        file.truncate(SIZE)  # sparse: no disk space, and sendfile sends it all the same
    return path


def is_open(path: pathlib.Path) -> bool:
    return str(path) in {f.path for f in psutil.Process().open_files()}


async def test_a_write_timeout_aborts_the_connection(
    local_server: ServerThread,
    stalled: FaultProxy,
    big_file: pathlib.Path,
    tmp_path: pathlib.Path,
    anyio_backend: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, "aikit_files")
    progress: list[int] = []
    held = Held.now(stalled, big_file.parent)
    timeout = af.Timeout(connect=5, read=5, write=0.5)
    async with af.AsyncClient(
        local_server.api_key, base_url=stalled.url + "/v1", timeout=timeout, max_retries=0
    ) as client:
        with pytest.raises(af.APITimeoutError, match="write timeout"):
            await client.files.create(
                big_file, "user_data", on_progress=lambda done, _: progress.append(done)
            )
        # Aborted at once, not closed gracefully with tens of MiB still to send.
        await asyncio.sleep(0.05)
        assert Held.now(stalled, big_file.parent) == held
    assert ways(caplog) == [expected_way(anyio_backend)]
    # It stalled in the middle of the file part.
    assert progress
    assert progress[-1] < SIZE
    gc.collect()  # an unclosed transport would warn here, and warnings are errors


async def test_a_cancellation_mid_upload_leaves_no_file_open(
    local_server: ServerThread,
    stalled: FaultProxy,
    big_file: pathlib.Path,
    tmp_path: pathlib.Path,
    anyio_backend: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, "aikit_files")
    progress: list[int] = []
    timeout = af.Timeout(connect=5, read=5, write=None)
    async with af.AsyncClient(
        local_server.api_key, base_url=stalled.url + "/v1", timeout=timeout, max_retries=0
    ) as client:
        held = Held.now(stalled, big_file.parent)
        task = client.files.create(
            big_file, "user_data", on_progress=lambda done, _: progress.append(done)
        )
        # Wait until the upload stands still in the middle of the file part, the file open.
        previous = -1
        while not progress or progress[-1] != previous:
            previous = progress[-1] if progress else -1
            await asyncio.sleep(0.2)
        assert 0 < progress[-1] < SIZE
        assert is_open(big_file)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)  # let the closed connection settle
        assert not is_open(big_file)
        assert Held.now(stalled, big_file.parent) == held
    assert ways(caplog) == [expected_way(anyio_backend)]
    gc.collect()
