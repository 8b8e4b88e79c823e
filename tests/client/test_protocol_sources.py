"""Upload sources: each kind described before any transfer, with its size and replay rule."""

from __future__ import annotations

import io
import os
import pathlib
from collections.abc import AsyncIterator

import pytest

import aikit_files as af
from aikit_files._protocol.sources import SourceKind, describe_source


def test_path_size_comes_from_stat(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"x" * 1234)
    for value in (path, str(path)):
        source = describe_source(value)
        assert source.kind is SourceKind.PATH
        assert source.size == 1234
        assert source.filename == "train.jsonl"
        assert source.replayable


def test_blobs_are_replayable() -> None:
    for blob in (b"abc", bytearray(b"abc"), memoryview(b"abc")):
        source = describe_source(blob)
        assert source.kind is SourceKind.BLOB
        assert source.size == 3
        assert source.filename == "file"
        assert source.replayable


def test_multidimensional_memoryview_counts_bytes() -> None:
    view = memoryview(bytes(range(12))).cast("B", (3, 4))
    assert describe_source(view).size == 12


def test_seekable_file_object_from_its_position(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(b"0123456789")
    with path.open("rb") as file:
        file.seek(4)
        source = describe_source(file)
        assert file.tell() == 4
    assert source.kind is SourceKind.FILE
    assert (source.size, source.start, source.filename) == (6, 4, "doc.pdf")
    assert source.replayable


def test_bytesio_is_seekable() -> None:
    source = describe_source(io.BytesIO(b"hello"))
    assert (source.size, source.filename, source.replayable) == (5, "file", True)


def test_non_seekable_file_object_has_unknown_size() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader, os.fdopen(write_end, "wb"):
        source = describe_source(reader)
    assert source.kind is SourceKind.FILE
    assert source.size is None
    assert not source.replayable


def test_async_iterable_is_never_replayable() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"x"

    iterator = chunks()
    source = describe_source(iterator)
    assert source.kind is SourceKind.STREAM
    assert source.size is None
    assert not source.replayable


def test_missing_path(tmp_path: pathlib.Path) -> None:
    with pytest.raises(af.InvalidArgumentError, match="no such file"):
        describe_source(tmp_path / "missing.txt")


def test_directory(tmp_path: pathlib.Path) -> None:
    with pytest.raises(af.InvalidArgumentError, match="directory"):
        describe_source(tmp_path)


def test_empty_path() -> None:
    with pytest.raises(af.InvalidArgumentError, match="empty"):
        describe_source("")


def test_fifo_is_refused(tmp_path: pathlib.Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(af.InvalidArgumentError, match="not a regular file"):
        describe_source(fifo)


def test_text_mode_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("hi")
    with path.open() as file, pytest.raises(af.InvalidArgumentTypeError, match="'rb'"):
        describe_source(file)
    with pytest.raises(af.InvalidArgumentTypeError):
        describe_source(io.StringIO("hi"))


def test_closed_file_object() -> None:
    file = io.BytesIO(b"x")
    file.close()
    with pytest.raises(af.InvalidArgumentError, match="closed"):
        describe_source(file)


@pytest.mark.parametrize("value", [None, 12, 1.5, ["a"], {"a": 1}, object()])
def test_wrong_types(value: object) -> None:
    with pytest.raises(af.InvalidArgumentTypeError):
        describe_source(value)


def test_over_the_uploads_limit(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "huge.bin"
    with path.open("wb") as file:
        file.truncate(8 * 1024**3 + 1)
    with pytest.raises(af.InvalidArgumentError, match="more than the API accepts"):
        describe_source(path)


def test_undecodable_name_keeps_a_valid_filename(tmp_path: pathlib.Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9.txt"
    with open(raw, "wb") as file:
        file.write(b"x")
    source = describe_source(os.fsdecode(raw))
    assert source.filename == "caf\ufffd.txt"
    source.filename.encode("utf-8")
