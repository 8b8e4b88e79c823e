"""Durability: what survives a restart, what a crash leaves behind, and what expires."""

from __future__ import annotations

import asyncio
import gc
import json
import pathlib
import threading
import time

import openai
import pytest

from aikit_files.server import ServerThread
from aikit_files.server._storage import Store

from .conftest import API_KEY, API_VERSION, FakeClock, disk, eventually


def sdk_for(server: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.openai_base_url, api_key=API_KEY, max_retries=0)


def test_files_and_uploads_survive_a_restart(data_dir: pathlib.Path) -> None:
    with ServerThread(data_dir, api_key=API_KEY) as server, sdk_for(server) as sdk:
        ids = [
            sdk.files.create(file=(f"{i}.txt", f"content {i}".encode()), purpose="assistants").id
            for i in range(5)
        ]
        upload = sdk.uploads.create(
            bytes=6, filename="u.txt", mime_type="text/plain", purpose="assistants"
        )
        first = sdk.uploads.parts.create(upload.id, data=b"abc")
        listed = sdk.files.list(order="asc").model_dump()
    with ServerThread(data_dir, api_key=API_KEY) as server, sdk_for(server) as sdk:
        assert sdk.files.list(order="asc").model_dump() == listed
        assert [sdk.files.content(i).content for i in ids] == [
            f"content {i}".encode() for i in range(5)
        ]
        second = sdk.uploads.parts.create(upload.id, data=b"def")
        done = sdk.uploads.complete(upload.id, part_ids=[first.id, second.id])
        assert done.file is not None
        assert sdk.files.content(done.file.id).content == b"abcdef"
        # New files still sort after the old ones, even within the same second.
        newer = sdk.files.create(file=b"new", purpose="assistants")
        assert [f.id for f in sdk.files.list(order="asc")][-1] == newer.id


def test_startup_removes_what_a_crash_left(data_dir: pathlib.Path) -> None:
    with ServerThread(data_dir, api_key=API_KEY) as server, sdk_for(server) as sdk:
        kept = sdk.files.create(file=b"kept", purpose="assistants")
        lost = sdk.files.create(file=b"lost", purpose="assistants")
        upload = sdk.uploads.create(
            bytes=3, filename="u.txt", mime_type="text/plain", purpose="assistants"
        )
    # What a crash can leave: a half-written temporary file, content renamed into place whose
    # metadata never was, metadata whose content vanished, an Upload directory never
    # completed, and names that are not ours.
    (data_dir / "tmp" / "0123.part").write_bytes(b"half")
    (data_dir / "files" / ("file-" + "a" * 32)).write_bytes(b"orphan")
    (data_dir / "files" / lost.id).unlink()
    (data_dir / "files" / "notes.txt").write_bytes(b"?")
    (data_dir / "uploads" / ("upload_" + "b" * 32)).mkdir()
    (data_dir / "uploads" / "junk").mkdir()
    (data_dir / "uploads" / upload.id / "junk.bin").write_bytes(b"?")
    with ServerThread(data_dir, api_key=API_KEY) as server, sdk_for(server) as sdk:
        assert [f.id for f in sdk.files.list()] == [kept.id]
        assert sdk.files.content(kept.id).content == b"kept"
    assert disk(data_dir) == {
        "files",
        f"files/{kept.id}",
        f"files/{kept.id}.json",
        "tmp",
        "uploads",
        f"uploads/{upload.id}",
        f"uploads/{upload.id}/upload.json",
    }


@pytest.mark.anyio
async def test_a_half_received_upload_leaves_nothing(
    server: ServerThread, data_dir: pathlib.Path
) -> None:
    before = disk(data_dir)
    reader, writer = await asyncio.open_connection(server.host, server.port)
    body = (
        b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
        + b"x"
        * 300_000
    )
    writer.write(
        b"POST /v1/files HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {API_KEY}\r\n".encode()
        + b"Content-Type: multipart/form-data; boundary=b\r\n"
        + f"Content-Length: {len(body) + 600_000}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    # The server has started writing the file: a temporary file exists.
    await asyncio.to_thread(
        eventually, lambda: len(disk(data_dir)) > len(before), "a temporary file"
    )
    writer.close()  # the client goes away, 600 000 bytes short
    await writer.wait_closed()
    await asyncio.to_thread(eventually, lambda: disk(data_dir) == before, "a clean data dir")
    del reader


def test_interrupted_processing_resumes_after_a_restart(
    data_dir: pathlib.Path, clock: FakeClock
) -> None:
    def azure(server: ServerThread) -> openai.AzureOpenAI:
        return openai.AzureOpenAI(
            azure_endpoint=server.azure_endpoint, api_key=API_KEY, api_version=API_VERSION
        )

    def serve() -> ServerThread:
        return ServerThread(data_dir, api_key=API_KEY, clock=clock, processing_delay=0)

    with serve() as server, azure(server) as sdk:
        checked = sdk.files.create(file=("a.jsonl", b'{"a": 1}\n'), purpose="fine-tune")
        imported = sdk.files.create(file=("b.jsonl", b'{"b": 1}\n'), purpose="fine-tune")
        eventually(lambda: sdk.files.retrieve(imported.id).status == "processed", "done")
    # As a crash would leave them: one file accepted but not processed yet, one import
    # whose content was not fetched yet.
    for file_id, changes in ((checked.id, {}), (imported.id, {"bytes": None})):
        meta = data_dir / "files" / f"{file_id}.json"
        meta.write_text(json.dumps({**json.loads(meta.read_text()), "outcome": None, **changes}))
    (data_dir / "files" / imported.id).unlink()
    with serve() as server, azure(server) as sdk:
        eventually(lambda: sdk.files.retrieve(checked.id).status == "processed", "checked")
        eventually(lambda: sdk.files.retrieve(imported.id).status == "error", "failed")
        assert "restart" in (sdk.files.retrieve(imported.id).status_details or "")


def test_files_expire(server: ServerThread, client: openai.OpenAI, clock: FakeClock) -> None:
    data_dir = pathlib.Path(server.data_dir)
    short = client.files.create(
        file=b"short", purpose="assistants", expires_after={"anchor": "created_at", "seconds": 3600}
    )
    kept = client.files.create(file=b"kept", purpose="assistants")
    clock.advance(3599)
    assert client.files.retrieve(short.id).id == short.id
    clock.advance(1)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(short.id)
    assert [f.id for f in client.files.list()] == [kept.id]
    assert not any(short.id in name for name in disk(data_dir))


def test_uploads_expire_after_an_hour(
    server: ServerThread, client: openai.OpenAI, clock: FakeClock
) -> None:
    upload = client.uploads.create(
        bytes=6, filename="u.txt", mime_type="text/plain", purpose="assistants"
    )
    part = client.uploads.parts.create(upload.id, data=b"abc")
    clock.advance(3600)
    with pytest.raises(openai.BadRequestError, match="expired"):
        client.uploads.complete(upload.id, part_ids=[part.id])
    assert disk(pathlib.Path(server.data_dir)) >= {f"uploads/{upload.id}/upload.json"}
    assert f"uploads/{upload.id}/{part.id}" not in disk(pathlib.Path(server.data_dir))


def test_a_completion_interrupted_by_a_crash_is_not_made_twice(data_dir: pathlib.Path) -> None:
    contents = (b"abc", b"def")
    with ServerThread(data_dir, api_key=API_KEY) as server, sdk_for(server) as sdk:
        upload = sdk.uploads.create(
            bytes=6, filename="u.txt", mime_type="text/plain", purpose="assistants"
        )
        part_ids = [sdk.uploads.parts.create(upload.id, data=data).id for data in contents]
        done = sdk.uploads.complete(upload.id, part_ids=part_ids)
        assert done.file is not None
    # What a crash between making the file and marking the Upload completed leaves: the file,
    # and the Upload still pending, with its Parts.
    directory = data_dir / "uploads" / upload.id
    meta = directory / "upload.json"
    meta.write_text(
        json.dumps({**json.loads(meta.read_text()), "status": "pending", "file_id": None})
    )
    for part_id, data in zip(part_ids, contents, strict=True):
        (directory / part_id).write_bytes(data)
    with ServerThread(data_dir, api_key=API_KEY) as server, sdk_for(server) as sdk:
        again = sdk.uploads.complete(upload.id, part_ids=part_ids)
        assert (again.status, again.file and again.file.id) == ("completed", done.file.id)
        assert [f.id for f in sdk.files.list()] == [done.file.id]
        assert sdk.files.content(done.file.id).content == b"abcdef"
    assert disk(data_dir) == {
        "files",
        f"files/{done.file.id}",
        f"files/{done.file.id}.json",
        "tmp",
        "uploads",
        f"uploads/{upload.id}",
        f"uploads/{upload.id}/upload.json",
    }


@pytest.mark.parametrize(
    "corrupt",
    [
        b"",
        b"{",
        b"\xff\xfe",
        b"[1, 2]",
        b"{}",
        b'{"id": 5}',
        b"[" * 100_000,
    ],
)
def test_corrupt_metadata_is_quarantined_and_the_server_starts(
    corrupt: bytes, data_dir: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ServerThread(data_dir, api_key=API_KEY) as server, sdk_for(server) as sdk:
        kept = sdk.files.create(file=b"kept", purpose="assistants")
        broken = sdk.files.create(file=b"broken", purpose="assistants")
        renamed = sdk.files.create(file=b"renamed", purpose="assistants")
        upload = sdk.uploads.create(
            bytes=3, filename="u.txt", mime_type="text/plain", purpose="assistants"
        )
        part = sdk.uploads.parts.create(upload.id, data=b"abc")
        broken_upload = sdk.uploads.create(
            bytes=3, filename="b.txt", mime_type="text/plain", purpose="assistants"
        )
    (data_dir / "files" / f"{broken.id}.json").write_bytes(corrupt)
    (data_dir / "uploads" / broken_upload.id / "upload.json").write_bytes(corrupt)
    # A record that is fine, but under another file's name.
    meta = data_dir / "files" / f"{renamed.id}.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "id": kept.id}))
    with ServerThread(data_dir, api_key=API_KEY) as server, sdk_for(server) as sdk:
        assert [f.id for f in sdk.files.list()] == [kept.id]
        assert sdk.files.content(kept.id).content == b"kept"
        done = sdk.uploads.complete(upload.id, part_ids=[part.id])
        with pytest.raises(openai.NotFoundError):
            sdk.uploads.cancel(broken_upload.id)
    assert done.status == "completed"
    quarantined = {name for name in disk(data_dir) if name.startswith("quarantine/")}
    assert quarantined == {
        f"quarantine/{broken.id}.json",
        f"quarantine/{broken.id}",
        f"quarantine/{renamed.id}.json",
        f"quarantine/{renamed.id}",
        f"quarantine/{broken_upload.id}",
        f"quarantine/{broken_upload.id}/upload.json",
    }
    assert f"files/{broken.id}.json is corrupt" in caplog.text


async def _receive_and_wait(store: Store) -> None:
    async with store.receive():
        await asyncio.sleep(10)


def test_a_receive_cancelled_at_once_leaves_no_file(tmp_path: pathlib.Path) -> None:
    # Cancelled right after it starts (as a server's shutdown cancels an import just begun):
    # no file is left open, none on disk.
    async def main() -> None:
        store = Store(tmp_path / "data", time.time, 1 << 30)
        await asyncio.to_thread(store.open)
        task = asyncio.create_task(_receive_and_wait(store))
        await asyncio.sleep(0)
        threading.Event().wait(0.05)  # blocks the loop: a worker thread would open the file now
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    gc.collect()  # an open file would warn here, and warnings are errors
    assert list((tmp_path / "data" / "tmp").iterdir()) == []
