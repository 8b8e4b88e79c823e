"""The form body's sendfile path: how slices grow with the link (pure), how the transport's
buffer is emptied before sendfile writes past it, and how a file is prefetched."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
from collections.abc import AsyncIterator

import pytest
from aiohttp.client_proto import ResponseHandler
from aiohttp.http_writer import StreamWriter
from hypothesis import given
from hypothesis import strategies as st

import aikit_files as af
from aikit_files._io.body import (
    MAX_SLICE,
    MIN_SLICE,
    SLICE_SECONDS,
    UNPAUSED_WRITE,
    FormPayload,
    FormSender,
    fits_unpaused,
    next_slice,
)
from aikit_files._io.guarded import GuardedFile
from aikit_files._protocol.multipart import build_form
from aikit_files._protocol.requests import FormBody
from aikit_files._protocol.sources import describe_source

MiB = 1024 * 1024


def test_slices_double_up_to_the_largest_on_a_fast_link() -> None:
    size, sent, elapsed, sizes = MIN_SLICE, 0, 0.0, []
    for _ in range(10):
        sent, elapsed = sent + size, elapsed + size / 1e9  # 1 GB/s
        size = next_slice(size, sent, elapsed, write_timeout=600)
        sizes.append(size)
    assert sizes[:3] == [2 * MIN_SLICE, 4 * MIN_SLICE, 8 * MIN_SLICE]
    assert sizes[-1] == MAX_SLICE


def test_slices_follow_a_slow_link_and_a_short_write_timeout() -> None:
    # 1 MB/s so far: a slice takes a quarter of a second, or a quarter of a 0.8 s write timeout.
    assert next_slice(MAX_SLICE, 10**6, 1.0, write_timeout=None) == 10**6 * SLICE_SECONDS
    assert next_slice(MAX_SLICE, 10**6, 1.0, write_timeout=0.8) == 200_000
    # Never below the smallest, whatever the link.
    assert next_slice(MAX_SLICE, 1, 100.0, write_timeout=1) == MIN_SLICE


@given(
    previous=st.integers(MIN_SLICE, MAX_SLICE),
    sent=st.integers(0, 2**40),
    elapsed=st.floats(0, 1e6),
    write_timeout=st.none() | st.floats(1e-3, 1e6),
)
def test_a_slice_is_bounded_by_the_last_one_and_the_rate_seen(
    previous: int, sent: int, elapsed: float, write_timeout: float | None
) -> None:
    size = next_slice(previous, sent, elapsed, write_timeout)
    assert MIN_SLICE <= size <= MAX_SLICE
    assert size <= max(MIN_SLICE, 2 * previous)
    if elapsed > 0:
        seconds = SLICE_SECONDS if write_timeout is None else min(SLICE_SECONDS, write_timeout / 4)
        assert size <= max(MIN_SLICE, sent / elapsed * seconds)


@contextlib.asynccontextmanager
async def connection_to_a_peer(reading: asyncio.Event) -> AsyncIterator[StreamWriter]:
    """aiohttp's writer on a connection to a peer that reads only once ``reading`` is set."""

    peers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer)
        await reading.wait()
        while await reader.read(MiB):
            pass

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    port = server.sockets[0].getsockname()[1]
    transport, protocol = await loop.create_connection(
        lambda: ResponseHandler(loop), "127.0.0.1", port
    )
    try:
        yield StreamWriter(protocol, loop)
    finally:
        transport.abort()
        for peer in peers:
            peer.transport.abort()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0)  # the handlers see their connections end


def payload(write_timeout: float | None) -> FormPayload:
    form = build_form([], filename="a.bin", content_type="application/octet-stream")
    return FormPayload(FormSender(FormBody(form, describe_source(b"a"))), write_timeout)


@pytest.mark.anyio
async def test_the_buffer_is_emptied_before_sendfile_and_the_limits_restored() -> None:
    reading = asyncio.Event()
    async with connection_to_a_peer(reading) as writer:
        transport = writer.transport
        assert transport is not None
        limits = transport.get_write_buffer_limits()
        transport.write(b"x" * 32 * MiB)  # more than the sockets hold: some stays buffered
        assert transport.get_write_buffer_size() > 0
        asyncio.get_running_loop().call_later(0.1, reading.set)
        await payload(write_timeout=10)._flush(writer, transport)
        assert transport.get_write_buffer_size() == 0
        assert transport.get_write_buffer_limits() == limits


@pytest.mark.anyio
async def test_a_buffer_that_does_not_empty_is_a_write_timeout() -> None:
    async with connection_to_a_peer(asyncio.Event()) as writer:
        transport = writer.transport
        assert transport is not None
        transport.write(b"x" * 32 * MiB)
        with pytest.raises(af.APITimeoutError, match="write timeout"):
            await payload(write_timeout=0.2)._flush(writer, transport)
        assert transport.is_closing()


@pytest.mark.anyio
async def test_only_a_small_write_to_an_empty_buffer_goes_without_a_write_timeout() -> None:
    reading = asyncio.Event()
    async with connection_to_a_peer(reading) as writer:
        transport = writer.transport
        assert transport is not None
        assert fits_unpaused(transport, 4096)
        assert fits_unpaused(transport, UNPAUSED_WRITE)
        assert not fits_unpaused(transport, UNPAUSED_WRITE + 1)
        # A transport that would pause sooner than the headers and the write need room for.
        limits = transport.get_write_buffer_limits()
        transport.set_write_buffer_limits(high=2 * UNPAUSED_WRITE)
        assert not fits_unpaused(transport, 4096)
        transport.set_write_buffer_limits(high=limits[1], low=limits[0])
        # Bytes still buffered (a peer that reads nothing): the write could wait.
        transport.write(b"x" * 32 * MiB)
        assert transport.get_write_buffer_size() > 0
        assert not fits_unpaused(transport, 1)
        transport.abort()
        assert not fits_unpaused(transport, 1)
    assert not fits_unpaused(None, 1)


def test_prefetching_reads_nothing_and_stops_once_closed(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(3 * MiB))
    file = GuardedFile(path.open("rb", 0), owned=True)
    file.prefetch(MiB, 2 * MiB)  # advice: no bytes read, no position moved
    assert file.raw.tell() == 0
    file.close()
    file.prefetch(0, 3 * MiB)  # a no-op once closed
    assert file.raw.closed
