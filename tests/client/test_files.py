"""AsyncFilesAPI against the local Files API server over loopback: every method, every kind of
file; every kind of upload on asyncio's loop and on uvloop."""

from __future__ import annotations

import io
import os
import pathlib
import threading
from collections.abc import AsyncIterator

import pytest
from loops import on_both_loops

import aikit_files as af
from aikit_files.server import ServerThread

pytestmark = pytest.mark.anyio

JSONL = b'{"custom_id": "1", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n' * 50


@pytest.fixture
def work(tmp_path: pathlib.Path) -> pathlib.Path:
    """A directory of the test's own (the local server keeps its files in ``tmp_path``)."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def jsonl(work: pathlib.Path) -> pathlib.Path:
    path = work / "requests.jsonl"
    path.write_bytes(JSONL)
    return path


@on_both_loops
async def test_create_from_path_then_every_read(
    client: af.AsyncClient, jsonl: pathlib.Path, work: pathlib.Path
) -> None:
    created = await client.files.create(jsonl, "batch")
    assert isinstance(created, af.OpenAIFile)
    assert (created.filename, created.purpose, created.bytes) == (
        "requests.jsonl",
        "batch",
        len(JSONL),
    )
    assert created.id.startswith("file-")

    assert await client.files.retrieve(created.id) == created
    assert await client.files.content(created.id) == JSONL
    target = work / "copy.jsonl"
    assert await client.files.download(created.id, target) == target
    assert target.read_bytes() == JSONL
    assert sorted(os.listdir(work)) == ["copy.jsonl", "requests.jsonl"]

    deleted = await client.files.delete(created.id)
    assert deleted == af.FileDeleted(id=created.id, deleted=True)
    with pytest.raises(af.NotFoundError):
        await client.files.retrieve(created.id)


@on_both_loops
async def test_create_from_a_str_path(client: af.AsyncClient, jsonl: pathlib.Path) -> None:
    created = await client.files.create(str(jsonl), "fine-tune")
    assert created.filename == "requests.jsonl"
    assert await client.files.content(created.id) == JSONL


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
@on_both_loops
async def test_create_from_a_blob(client: af.AsyncClient, kind: type) -> None:
    created = await client.files.create(kind(b"hello blob"), "assistants", filename="blob.txt")
    assert (created.filename, created.bytes) == ("blob.txt", 10)
    assert await client.files.content(created.id) == b"hello blob"


@on_both_loops
async def test_blob_without_filename_is_named_file(client: af.AsyncClient) -> None:
    created = await client.files.create(b"data", "user_data")
    assert created.filename == "file"


@on_both_loops
async def test_create_from_an_open_file_reads_from_its_position(
    client: af.AsyncClient, jsonl: pathlib.Path
) -> None:
    with jsonl.open("rb") as file:
        file.seek(10)
        created = await client.files.create(file, "batch")
    assert created.filename == "requests.jsonl"
    assert await client.files.content(created.id) == JSONL[10:]


@on_both_loops
async def test_create_from_bytesio(client: af.AsyncClient) -> None:
    created = await client.files.create(io.BytesIO(b"in memory"), "assistants", filename="m.txt")
    assert await client.files.content(created.id) == b"in memory"


@on_both_loops
async def test_create_from_a_pipe(client: af.AsyncClient) -> None:
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as writer:
            writer.write(b"piped " * 100_000)

    feeder = threading.Thread(target=feed)
    feeder.start()
    with os.fdopen(read_end, "rb") as reader:
        created = await client.files.create(reader, "assistants", filename="pipe.txt")
    feeder.join()
    assert created.bytes == 600_000
    assert await client.files.content(created.id) == b"piped " * 100_000


@on_both_loops
async def test_create_from_an_async_iterable(client: af.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(100):
            yield f"{i:05}\n".encode() * 1000

    created = await client.files.create(chunks(), "assistants", filename="stream.txt")
    expected = b"".join(f"{i:05}\n".encode() * 1000 for i in range(100))
    assert created.bytes == len(expected)
    assert await client.files.content(created.id) == expected


@on_both_loops
async def test_empty_file(client: af.AsyncClient, work: pathlib.Path) -> None:
    path = work / "empty.txt"
    path.touch()
    progress: list[tuple[int, int | None]] = []
    created = await client.files.create(
        path, "assistants", on_progress=lambda *a: progress.append(a)
    )
    assert created.bytes == 0
    assert progress == [(0, 0)]
    assert await client.files.content(created.id) == b""


@on_both_loops
async def test_options_reach_the_server(client: af.AsyncClient) -> None:
    created = await client.files.create(
        b"{}\n",
        "batch",
        af.FileParameters(filename="renamed.jsonl", content_type="application/jsonl"),
        expires_after=af.ExpiresAfter(seconds=7200),
    )
    assert created.filename == "renamed.jsonl"
    assert created.expires_at == created.created_at + 7200


@on_both_loops
async def test_expires_after_as_a_mapping(client: af.AsyncClient) -> None:
    created = await client.files.create(
        b"x",
        "assistants",
        filename="a.txt",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert created.expires_at == created.created_at + 3600


@on_both_loops
async def test_upload_progress(client: af.AsyncClient, work: pathlib.Path) -> None:
    path = work / "big.bin"
    size = 5 * 1024 * 1024 + 123
    path.write_bytes(os.urandom(size))
    progress: list[tuple[int, int | None]] = []
    await client.files.create(path, "assistants", on_progress=lambda *a: progress.append(a))
    sent = [done for done, _ in progress]
    assert sent == sorted(sent)
    assert progress[-1] == (size, size)
    assert all(total == size for _, total in progress)


async def test_download_progress_and_replace(client: af.AsyncClient, work: pathlib.Path) -> None:
    data = os.urandom(3 * 1024 * 1024)
    created = await client.files.create(data, "assistants", filename="r.bin")
    target = work / "r.bin"
    target.write_bytes(b"old content")
    progress: list[tuple[int, int | None]] = []
    await client.files.download(
        created.id, str(target), af.DownloadParameters(on_progress=lambda *a: progress.append(a))
    )
    assert target.read_bytes() == data
    assert progress[-1] == (len(data), len(data))
    assert os.listdir(work) == [target.name]


async def test_failed_download_leaves_nothing(client: af.AsyncClient, work: pathlib.Path) -> None:
    target = work / "missing.bin"
    with pytest.raises(af.NotFoundError):
        await client.files.download("file-doesnotexist", target)
    assert os.listdir(work) == []


async def test_list_one_page(client: af.AsyncClient) -> None:
    ids = [
        (await client.files.create(b"x", "assistants", filename=f"{i}.txt")).id for i in range(3)
    ]
    await client.files.create(b"{}\n", "batch", filename="b.jsonl")

    page = await client.files.list(purpose="assistants", limit=2, order="asc")
    assert isinstance(page, af.FileList)
    assert [f.id for f in page.data] == ids[:2]
    assert page.files == page.data
    assert (page.first_id, page.last_id, page.has_more) == (ids[0], ids[1], True)

    rest = await client.files.list(
        af.FileListParameters(purpose="assistants", order="asc", after=ids[1])
    )
    assert [f.id for f in rest.data] == ids[2:]
    assert rest.has_more is False


async def test_iterate_every_page(client: af.AsyncClient) -> None:
    ids = [(await client.files.create(b"x", "vision", filename=f"{i}.png")).id for i in range(5)]
    seen = [f.id async for f in client.files.iterate(purpose="vision", limit=2, order="asc")]
    assert seen == ids
    newest_first = [f.id async for f in client.files.iterate({"purpose": "vision", "limit": 3})]
    assert newest_first == ids[::-1]


async def test_wait_for_processing(client: af.AsyncClient) -> None:
    created = await client.files.create(b"x", "assistants", filename="a.txt")
    processed = await client.files.wait_for_processing(created.id, poll_interval=0.05)
    assert processed.status == "processed"


async def test_tasks_run_concurrently(client: af.AsyncClient) -> None:
    tasks = [client.files.create(b"%d" % i, "assistants", filename=f"{i}.txt") for i in range(8)]
    files = [await task for task in tasks]
    assert len({f.id for f in files}) == 8


async def test_server_errors_arrive_as_api_status_errors(client: af.AsyncClient) -> None:
    with pytest.raises(af.BadRequestError) as caught:
        await client.files.create(b"not jsonl", "batch", filename="a.txt")
    error = caught.value
    assert error.status_code == 400
    assert error.message
    assert error.type == "invalid_request_error"
    assert isinstance(error.body, dict)


async def test_wrong_key(local_server: ServerThread) -> None:
    async with af.AsyncClient("sk-wrong", base_url=local_server.openai_base_url) as client:
        with pytest.raises(af.AuthenticationError) as caught:
            await client.files.list()
    assert "sk-wrong" not in str(caught.value)


async def test_azure(tmp_path: pathlib.Path) -> None:
    with ServerThread(tmp_path / "data", api_key="az-key", processing_delay=0.1) as server:
        async with af.AsyncClient(
            "az-key", base_url=server.azure_endpoint, provider="azure"
        ) as client:
            created = await client.files.create(b"{}\n", "fine-tune", filename="t.jsonl")
            processed = await client.files.wait_for_processing(created.id, poll_interval=0.05)
            assert processed.status == "processed"
            assert [f.id async for f in client.files.iterate()] == [created.id]
            assert await client.files.content(created.id) == b"{}\n"
            assert (await client.files.delete(created.id)).deleted
            with pytest.raises(af.NotFoundError) as caught:
                await client.files.retrieve(created.id)
            assert caught.value.message
