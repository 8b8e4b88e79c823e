"""Reading a source, whole or a byte range, with a running MD5: every kind of source, against
the bytes it holds; failures of the source are ``LocalIOError``."""

from __future__ import annotations

import asyncio
import hashlib
import io
import pathlib
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aikit_files as af
from aikit_files._io.reading import CHUNK_SIZE, read_source
from aikit_files._protocol.sources import describe_source

pytestmark = pytest.mark.anyio

DATA = bytes(range(256)) * (3 * CHUNK_SIZE // 256 + 123)


async def read_all(file: object, offset: int = 0, length: int | None = None) -> tuple[bytes, str]:
    chunks = [bytes(chunk) async for chunk in read_source(describe_source(file), offset, length)]
    assert all(len(chunk) <= CHUNK_SIZE for chunk in chunks)
    data = b"".join(chunks)
    return data, hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.fixture
def on_disk(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    return path


RANGES = [(0, None), (0, len(DATA)), (1, 10), (CHUNK_SIZE - 1, CHUNK_SIZE + 2), (len(DATA), 0)]


@pytest.mark.parametrize(("offset", "length"), RANGES)
async def test_a_range_of_a_path(on_disk: pathlib.Path, offset: int, length: int | None) -> None:
    expected = DATA[offset:] if length is None else DATA[offset : offset + length]
    data, md5 = await read_all(on_disk, offset, length)
    assert data == expected
    assert md5 == hashlib.md5(expected, usedforsecurity=False).hexdigest()


@pytest.mark.parametrize(("offset", "length"), RANGES)
async def test_a_range_of_a_blob(offset: int, length: int | None) -> None:
    expected = DATA[offset:] if length is None else DATA[offset : offset + length]
    assert (await read_all(DATA, offset, length))[0] == expected


@pytest.mark.parametrize(("offset", "length"), RANGES)
async def test_a_range_of_a_file_object_counts_from_where_it_stood(
    offset: int, length: int | None
) -> None:
    file = io.BytesIO(b"ignored" + DATA)
    file.seek(7)
    expected = DATA[offset:] if length is None else DATA[offset : offset + length]
    assert (await read_all(file, offset, length))[0] == expected


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=3000), cut=st.tuples(st.integers(0, 3000), st.integers(0, 3000)))
def test_any_range_of_a_blob_is_that_slice(data: bytes, cut: tuple[int, int]) -> None:

    offset = min(cut[0], len(data))
    length = min(cut[1], len(data) - offset)
    got, _ = asyncio.run(read_all(data, offset, length))
    assert got == data[offset : offset + length]


async def test_an_async_iterable_is_read_as_it_comes() -> None:
    async def produce() -> AsyncIterator[bytes | bytearray]:
        yield b"one,"
        yield b""
        yield bytearray(b"two")

    assert (await read_all(produce()))[0] == b"one,two"


async def test_a_path_that_changes_fails_as_a_local_error(on_disk: pathlib.Path) -> None:
    source = describe_source(on_disk)
    await asyncio.to_thread(on_disk.write_bytes, DATA[:100])
    with pytest.raises(af.LocalIOError, match="changed during the upload"):
        async for _ in read_source(source):
            pass


async def test_an_iterable_of_text_fails_as_a_local_error() -> None:
    async def produce() -> AsyncIterator[str]:
        yield "text"

    with pytest.raises(af.LocalIOError, match="yielded str"):
        async for _ in read_source(describe_source(produce())):
            pass


async def test_readings_at_once_share_the_chunk_size(on_disk: pathlib.Path) -> None:
    # Alone, a reading takes 1 MiB chunks; four at once (the Parts of a large upload) share
    # them, so what they hold in all stays flat.
    from aikit_files._io.reading import MIN_CHUNK_SIZE

    alone = [len(c) async for c in read_source(describe_source(on_disk), 0, 2 * CHUNK_SIZE)]
    assert alone == [CHUNK_SIZE, CHUNK_SIZE]

    readers = [read_source(describe_source(on_disk)) for _ in range(4)]
    firsts = [await anext(reader) for reader in readers]
    # A reading reads its next chunk as it hands one over: the last one to start did so with
    # four reading, so that chunk is a quarter.
    second = await anext(readers[-1])
    assert MIN_CHUNK_SIZE <= len(second) <= CHUNK_SIZE // 4
    rests = [b"".join([bytes(c) async for c in reader]) for reader in readers]
    assert bytes(firsts[-1]) + bytes(second) + rests[-1] == DATA
    assert all(
        bytes(first) + rest == DATA for first, rest in zip(firsts[:-1], rests[:-1], strict=True)
    )
