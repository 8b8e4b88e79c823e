"""Concurrency and streaming: many uploads at once, listings while they run, a file of MiBs."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pathlib
from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest

from aikit_files.server import ServerThread

from .conftest import API_KEY, disk

HEADERS = {"Authorization": f"Bearer {API_KEY}"}


async def upload(session: aiohttp.ClientSession, server: ServerThread, data: bytes) -> str:
    form = aiohttp.FormData()
    form.add_field("purpose", "assistants")
    form.add_field("file", data, filename="f.bin")
    async with session.post(f"{server.openai_base_url}/files", data=form, headers=HEADERS) as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["id"])


@pytest.mark.anyio
async def test_many_uploads_at_once_while_listing(
    server: ServerThread, data_dir: pathlib.Path
) -> None:
    blobs = [os.urandom(200_000 + i) for i in range(24)]
    snapshots: list[list[dict[str, object]]] = []
    async with aiohttp.ClientSession() as session:

        async def list_until(done: asyncio.Event) -> None:
            while not done.is_set():
                async with session.get(
                    f"{server.openai_base_url}/files", params={"order": "asc"}, headers=HEADERS
                ) as r:
                    snapshots.append((await r.json())["data"])
                await asyncio.sleep(0)

        done = asyncio.Event()
        lister = asyncio.create_task(list_until(done))
        ids = await asyncio.gather(*(upload(session, server, blob) for blob in blobs))
        done.set()
        await lister
        async with session.get(
            f"{server.openai_base_url}/files", params={"order": "asc"}, headers=HEADERS
        ) as r:
            snapshots.append((await r.json())["data"])
        for file_id, blob in zip(ids, blobs, strict=True):
            async with session.get(
                f"{server.openai_base_url}/files/{file_id}/content", headers=HEADERS
            ) as r:
                assert r.content_length == len(blob)
                assert await r.read() == blob
    sizes = {file_id: len(blob) for file_id, blob in zip(ids, blobs, strict=True)}
    previous: list[str] = []
    for snapshot in snapshots:
        # Each listing shows whole files only, in one order, and never loses one it showed.
        listed = [str(entry["id"]) for entry in snapshot]
        assert all(entry["bytes"] == sizes[entry["id"]] for entry in snapshot)  # type: ignore[index]
        assert listed == sorted(listed)
        assert set(previous) <= set(listed)
        previous = listed
    assert previous == sorted(ids)  # ids sort in creation order, and all were created
    assert not any(name.startswith("tmp/") for name in disk(data_dir))


@pytest.mark.anyio
async def test_a_file_of_several_mib_streams_through(
    local_server: ServerThread, tmp_path: pathlib.Path
) -> None:
    """A 24 MiB file, sent in small chunks without a Content-Length, comes back identical."""
    digest = hashlib.sha256()
    size = 24 * 1024 * 1024
    chunk = os.urandom(1 << 16)

    async def body() -> AsyncIterator[bytes]:
        yield (
            b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
        )
        for _ in range(size // len(chunk)):
            digest.update(chunk)
            yield chunk
        yield b"\r\n--b--\r\n"

    headers = {
        "Authorization": f"Bearer {local_server.api_key}",
        "Content-Type": "multipart/form-data; boundary=b",
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{local_server.openai_base_url}/files", data=body(), headers=headers
        ) as r:
            assert r.status == 200, await r.text()
            created = await r.json()
        assert created["bytes"] == size
        received = hashlib.sha256()
        async with session.get(
            f"{local_server.openai_base_url}/files/{created['id']}/content", headers=headers
        ) as r:
            assert r.content_length == size
            async for piece in r.content.iter_chunked(1 << 20):
                received.update(piece)
    assert received.hexdigest() == digest.hexdigest()
    assert os.listdir(tmp_path / "data" / "tmp") == []  # nothing half-received is left


def test_parallel_parts_of_one_upload(server: ServerThread, client: openai.OpenAI) -> None:
    parts = [bytes([i]) * 100_000 for i in range(8)]
    created = client.uploads.create(
        bytes=sum(map(len, parts)),
        filename="p.bin",
        mime_type="application/octet-stream",
        purpose="assistants",
    )

    async def send_all() -> list[str]:
        async with aiohttp.ClientSession() as session:

            async def send(data: bytes) -> str:
                form = aiohttp.FormData()
                form.add_field("data", data, filename="blob")
                async with session.post(
                    f"{server.openai_base_url}/uploads/{created.id}/parts",
                    data=form,
                    headers=HEADERS,
                ) as r:
                    assert r.status == 200, await r.text()
                    return str((await r.json())["id"])

            return await asyncio.gather(*(send(part) for part in parts))

    part_ids = asyncio.run(send_all())
    done = client.uploads.complete(
        created.id, part_ids=part_ids, md5=hashlib.md5(b"".join(parts)).hexdigest()
    )
    assert done.file is not None
    assert client.files.content(done.file.id).content == b"".join(parts)
