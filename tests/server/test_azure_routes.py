"""The Azure routes: status lifecycle, files/import, 201 with Location, api-version, Azure bodies."""

from __future__ import annotations

import asyncio
import json
import pathlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import openai
import pytest
import yarl
from aiohttp import web

from aikit_files.cli._demo import serving_directory
from aikit_files.server import ServerThread

from .conftest import API_KEY, API_VERSION, FakeClock, assert_refused, auth, disk, eventually, url


@pytest.fixture
def origin(tmp_path: pathlib.Path) -> Iterator[str]:
    """A plain HTTP server (the stdlib's) that serves ``tmp_path / "origin"``: an import's source."""
    root = tmp_path / "origin"
    root.mkdir()
    (root / "good.jsonl").write_bytes(b'{"messages": []}\n' * 1000)
    (root / "bad.jsonl").write_bytes(b'{"messages": []}\n[1, 2]\n')
    # GET /moved answers 301 to /moved/, which serves its index.html.
    (root / "moved").mkdir()
    (root / "moved" / "index.html").write_bytes(b'{"moved": true}\n')

    with serving_directory(root) as url:
        yield url


def settled(azure: openai.AzureOpenAI, file_id: str) -> openai.types.FileObject:
    """The file once its background processing has stored an outcome."""
    eventually(lambda: azure.files.retrieve(file_id).status in ("processed", "error"), "processing")
    return azure.files.retrieve(file_id)


def import_file(azure: openai.AzureOpenAI, url: str, filename: str) -> openai.types.FileObject:
    return azure.post(
        "/files/import",
        body={"purpose": "fine-tune", "filename": filename, "content_url": url},
        cast_to=openai.types.FileObject,
    )


def test_lifecycle_pending_running_processed(azure: openai.AzureOpenAI, clock: FakeClock) -> None:
    created = azure.files.create(file=("t.jsonl", b'{"a": 1}\n'), purpose="fine-tune")
    # Azure's statuses are outside the SDK's Literal: compare them as plain strings.
    assert str(created.status) == "pending"
    assert str(azure.files.retrieve(created.id).status) == "pending"
    clock.advance(5)  # half the processing delay of the test server
    assert str(azure.files.retrieve(created.id).status) == "running"
    clock.advance(5)
    done = settled(azure, created.id)
    assert (done.status, done.status_details) == ("processed", None)


def test_an_invalid_fine_tune_file_ends_in_error(
    azure: openai.AzureOpenAI, clock: FakeClock
) -> None:
    created = azure.files.create(file=("t.jsonl", b'{"a": 1}\n{"a": \n'), purpose="fine-tune")
    clock.advance(10)
    failed = settled(azure, created.id)
    assert failed.status == "error"
    assert failed.status_details is not None
    assert "Line 2" in failed.status_details
    # The status is the file's, whatever route reads it.
    with openai.OpenAI(
        base_url=str(azure.base_url).removesuffix("/openai/") + "/v1", api_key=API_KEY
    ) as plain:
        assert plain.files.retrieve(created.id).status == "error"


def test_status_is_processed_at_once_with_no_processing_delay(data_dir: pathlib.Path) -> None:
    with (
        ServerThread(data_dir, processing_delay=0) as server,
        openai.AzureOpenAI(
            azure_endpoint=server.azure_endpoint, api_key="any", api_version=API_VERSION
        ) as azure,
    ):
        created = azure.files.create(file=("a.txt", b"a"), purpose="assistants")
        assert settled(azure, created.id).status == "processed"


def test_import_fetches_the_content(
    azure: openai.AzureOpenAI, clock: FakeClock, origin: str, tmp_path: pathlib.Path
) -> None:
    pending = import_file(azure, f"{origin}/good.jsonl?sig=secret", "good.jsonl")
    assert (str(pending.status), pending.filename, pending.purpose) == (
        "pending",
        "good.jsonl",
        "fine-tune",
    )
    clock.advance(10)
    done = settled(azure, pending.id)
    assert done.status == "processed"
    expected = (tmp_path / "origin" / "good.jsonl").read_bytes()
    assert done.bytes == len(expected)
    assert azure.files.content(done.id).content == expected


@pytest.mark.parametrize(
    ("path", "detail"), [("missing.jsonl", "answered 404"), ("bad.jsonl", "Line 2")]
)
def test_a_failed_import_ends_in_error(
    azure: openai.AzureOpenAI, clock: FakeClock, origin: str, path: str, detail: str
) -> None:
    pending = import_file(azure, f"{origin}/{path}?sig=secret", "x.jsonl")
    clock.advance(10)
    failed = settled(azure, pending.id)
    assert failed.status == "error"
    assert failed.status_details is not None
    assert detail in failed.status_details
    assert "secret" not in failed.status_details


def test_an_unreachable_import_ends_in_error(
    azure: openai.AzureOpenAI, clock: FakeClock, server: ServerThread, data_dir: pathlib.Path
) -> None:
    # Port 9 (discard): nothing listens there on loopback, so the connection is refused.
    pending = import_file(azure, "http://127.0.0.1:9/x.jsonl", "x.jsonl")
    clock.advance(10)
    failed = settled(azure, pending.id)
    assert failed.status == "error"
    assert "fileImportFailed" in (failed.status_details or "")
    with pytest.raises(openai.NotFoundError):
        azure.files.content(failed.id)
    assert not any(name.startswith("tmp/") for name in disk(data_dir))


@pytest.mark.anyio
async def test_create_answers_201_with_a_location(server: ServerThread) -> None:
    form = aiohttp.FormData()
    form.add_field("purpose", "assistants")
    form.add_field("file", b"hello", filename="hello.txt")
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{server.azure_endpoint}/openai/files",
            params={"api-version": API_VERSION},
            data=form,
            headers={"api-key": API_KEY},
        ) as response:
            assert response.status == 201
            body = await response.json()
            assert response.headers["Location"] == f"{server.url}/openai/files/{body['id']}"
        async with session.get(
            response.headers["Location"],
            params={"api-version": API_VERSION},
            headers={"api-key": API_KEY},
        ) as again:
            assert (await again.json())["id"] == body["id"]


def test_parts_carry_an_azure_block_id_that_complete_accepts(azure: openai.AzureOpenAI) -> None:
    upload = azure.uploads.create(
        bytes=4, filename="ab.txt", mime_type="text/plain", purpose="assistants"
    )
    parts = [azure.uploads.parts.create(upload.id, data=data) for data in (b"ab", b"cd")]
    blocks = [(part.model_extra or {})["azure_block_id"] for part in parts]
    done = azure.uploads.complete(upload.id, part_ids=blocks)
    assert done.file is not None
    assert azure.files.content(done.file.id).content == b"abcd"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {"purpose": "fine-tune", "filename": "a.jsonl", "content_url": "file:///etc/passwd"},
            "content_url",
        ),
        (
            {"purpose": "fine-tune", "filename": "a.jsonl", "content_url": "/etc/passwd"},
            "content_url",
        ),
        ({"purpose": "fine-tune", "filename": "a.jsonl"}, "content_url"),
        (
            {"purpose": "fine-tune", "filename": "a.jsonl", "content_url": "http://[::1"},
            "content_url",
        ),
        ({"purpose": ["fine-tune"], "filename": "a.jsonl", "content_url": "http://x/a"}, "purpose"),
        ({"purpose": "fine-tune", "content_url": "http://x/a"}, "filename"),
        ({"purpose": "fine-tune", "filename": "a.txt", "content_url": "http://x/a"}, "filename"),
        ({"purpose": "batch", "filename": "a.json", "content_url": "http://x/a"}, "filename"),
        ({"purpose": "fine-tune", "filename": "", "content_url": "http://x/a"}, "filename"),
        ({"filename": "a.jsonl", "content_url": "http://x/a"}, "purpose"),
        (
            {"purpose": "fine-tune", "filename": "a.jsonl", "content_url": "http://x/a", "x": 1},
            "x",
        ),
        ({"purpose": "nope", "filename": "a.jsonl", "content_url": "http://x/a"}, "purpose"),
    ],
)
async def test_bad_imports(
    body: dict[str, Any],
    param: str,
    server: ServerThread,
    session: aiohttp.ClientSession,
    data_dir: pathlib.Path,
) -> None:
    await assert_refused(
        session,
        data_dir,
        "azure",
        400,
        param,
        "POST",
        url(server, "azure", "/files/import").with_query({"api-version": API_VERSION}),
        json=body,
        headers=auth("azure"),
    )


def test_an_import_follows_redirects(
    azure: openai.AzureOpenAI, clock: FakeClock, origin: str
) -> None:
    pending = import_file(azure, f"{origin}/moved?sig=secret", "moved.jsonl")
    clock.advance(10)
    done = settled(azure, pending.id)
    assert done.status == "processed"
    assert azure.files.content(done.id).content == b'{"moved": true}\n'


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("localhost", "a loopback address"),
        ("[::ffff:127.0.0.1]", "a loopback address"),
        ("0.0.0.0", "an unspecified address"),
        ("169.254.169.254", "a link-local address"),
    ],
)
def test_imports_from_private_addresses_are_refused_by_default(
    host: str, kind: str, origin: str, data_dir: pathlib.Path
) -> None:
    port = origin.rsplit(":", 1)[1]
    with (
        ServerThread(data_dir, processing_delay=0) as server,
        openai.AzureOpenAI(
            azure_endpoint=server.azure_endpoint, api_key="any", api_version=API_VERSION
        ) as azure,
    ):
        pending = import_file(azure, f"http://{host}:{port}/good.jsonl?sig=secret", "a.jsonl")
        failed = settled(azure, pending.id)
    assert failed.status == "error"
    details = failed.status_details or ""
    assert details.startswith("fileImportFailed: the host of http://")
    assert kind in details
    assert "--allow-private-import" in details
    assert "secret" not in details
    assert not any(name.startswith("tmp/") for name in disk(data_dir))


@pytest.fixture
async def aiohttp_origin() -> AsyncIterator[tuple[str, list[yarl.URL], bytes]]:
    """A small aiohttp app on loopback that serves a JSON Lines file at ``/blob/train.jsonl``
    (and records the URLs asked for): an import's source, run on the test's event loop."""
    payload = b"".join(
        json.dumps({"messages": [{"role": "user", "content": f"question {i}"}]}).encode() + b"\n"
        for i in range(5000)
    )
    asked: list[yarl.URL] = []

    async def blob(request: web.Request) -> web.StreamResponse:
        asked.append(request.url)
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = len(payload)
        await response.prepare(request)
        for start in range(0, len(payload), 64 * 1024):  # in several chunks
            await response.write(payload[start : start + 64 * 1024])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/blob/train.jsonl", blob)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", asked, payload
    finally:
        await runner.cleanup()


@pytest.mark.anyio
async def test_an_import_from_loopback_works_end_to_end(
    aiohttp_origin: tuple[str, list[yarl.URL], bytes],
    server: ServerThread,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    # The fixture server runs with allow_private_import=True.
    origin, asked, payload = aiohttp_origin
    headers = auth("azure")
    query = {"api-version": API_VERSION}
    content_url = f"{origin}/blob/train.jsonl?sv=2024&sig=secret"
    async with session.post(
        url(server, "azure", "/files/import").with_query(query),
        json={"purpose": "fine-tune", "filename": "train.jsonl", "content_url": content_url},
        headers=headers,
    ) as response:
        assert response.status == 201
        created = await response.json()
        location = response.headers["Location"]
    assert location == f"{server.url}/openai/files/{created['id']}"
    assert (created["object"], created["status"]) == ("file", "pending")
    assert (created["filename"], created["purpose"]) == ("train.jsonl", "fine-tune")

    async def retrieve() -> dict[str, Any]:
        async with session.get(yarl.URL(location).with_query(query), headers=headers) as answer:
            assert answer.status == 200
            return dict(await answer.json())

    # Fetched meanwhile (the clock stands still): the file stays pending, and learns its size.
    for _ in range(500):
        if (await retrieve()).get("bytes") is not None:
            break
        await asyncio.sleep(0.01)
    fetched = await retrieve()
    assert fetched["bytes"] == len(payload), "the import never fetched its content"
    assert fetched["status"] == "pending"
    assert [str(asked_url) for asked_url in asked] == [content_url]
    clock.advance(10)  # the fixture server's processing delay
    for _ in range(500):
        if (await retrieve())["status"] in ("processed", "error"):
            break
        await asyncio.sleep(0.01)
    done = await retrieve()
    assert (done["status"], done["bytes"]) == ("processed", len(payload))
    assert done.get("status_details") is None
    for flavour in ("azure", "openai"):
        content = url(server, flavour, f"/files/{created['id']}/content")
        async with session.get(
            content.with_query(query) if flavour == "azure" else content, headers=auth(flavour)
        ) as answer:
            assert answer.status == 200
            assert await answer.read() == payload
