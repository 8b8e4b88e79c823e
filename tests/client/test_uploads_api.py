"""The low-level Uploads API (``client.uploads``) and Azure's ``files.import_url``, async and
sync, against the local server: each call, its callbacks and result, its bad arguments."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import pathlib
from collections.abc import Iterator

import pytest
from origins import JSONL

import aikit_files as af
from aikit_files.server import ServerThread
from aikit_files.server._runner import AppThread

pytestmark = pytest.mark.anyio


async def test_create_add_parts_complete(
    local_server: ServerThread, tmp_path: pathlib.Path
) -> None:
    second = tmp_path / "second.bin"
    second.write_bytes(JSONL[1000:])
    results: list[af.Result] = []
    async with af.AsyncClient(local_server.api_key, base_url=local_server.openai_base_url) as c:
        upload = await c.uploads.create(
            "data.jsonl", "fine-tune", len(JSONL), "text/jsonl", on_terminate=results.append
        )
        assert (upload.status, upload.bytes, upload.filename) == (
            "pending",
            len(JSONL),
            "data.jsonl",
        )
        one = await c.uploads.add_part(upload.id, JSONL[:1000], on_terminate=results.append)
        two = await c.uploads.add_part(upload.id, second)
        assert one.upload_id == upload.id
        done = await c.uploads.complete(
            upload.id, [one.id, two.id], md5=hashlib.md5(JSONL).hexdigest()
        )
        assert done.status == "completed"
        assert done.file is not None
        assert await c.files.content(done.file.id) == JSONL
    assert [type(r) for r in results] == [af.UploadResult, af.UploadPartResult]
    assert isinstance(results[0], af.UploadResult)
    assert results[0].upload == upload
    assert isinstance(results[1], af.UploadPartResult)
    assert results[1].part == one


async def test_a_wrong_md5_is_refused_and_cancel_drops_the_upload(
    local_server: ServerThread,
) -> None:
    async with af.AsyncClient(local_server.api_key, base_url=local_server.openai_base_url) as c:
        upload = await c.uploads.create("a.bin", "user_data", 3, "application/octet-stream")
        part = await c.uploads.add_part(upload.id, b"abc")
        with pytest.raises(af.BadRequestError, match="md5"):
            await c.uploads.complete(upload.id, [part.id], md5="0" * 32)
        cancelled = await c.uploads.cancel(upload.id)
        assert cancelled.status == "cancelled"
        with pytest.raises(af.BadRequestError):
            await c.uploads.add_part(upload.id, b"more")


def test_the_sync_twin(local_server: ServerThread) -> None:
    with af.Client(local_server.api_key, base_url=local_server.openai_base_url) as client:
        upload = client.uploads.create("s.txt", "user_data", 6, "text/plain")
        parts = [client.uploads.add_part(upload.id, data) for data in (b"abc", b"def")]
        future = client.uploads.complete(upload.id, [p.id for p in parts], on_terminate=print)
        assert isinstance(future, concurrent.futures.Future)
        done = future.result(timeout=30)
        assert done.file is not None
        assert client.files.content(done.file.id) == b"abcdef"
        other = client.uploads.create("t.txt", "user_data", 1, "text/plain")
        assert client.uploads.cancel(other.id).status == "cancelled"


CT = {"content-type": "text/plain"}


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda u: u.create("", "user_data", 1, "text/plain"), af.InvalidArgumentError),
        (lambda u: u.create("a", "", 1, "text/plain"), af.InvalidArgumentError),
        (lambda u: u.create("a", "user_data", -1, "text/plain"), af.InvalidArgumentError),
        (lambda u: u.create("a", "user_data", 9 * 1024**3, "text/plain"), af.InvalidArgumentError),
        (lambda u: u.create("a", "user_data", "1", "text/plain"), af.InvalidArgumentTypeError),
        (lambda u: u.create("a", "user_data", 1, ""), af.InvalidArgumentError),
        (
            lambda u: u.create("a", "user_data", 1, "t/p", expires_after=5),
            af.InvalidArgumentTypeError,
        ),
        (lambda u: u.add_part("", b"x"), af.InvalidArgumentError),
        (lambda u: u.add_part("upload_1", 3), af.InvalidArgumentTypeError),
        (lambda u: u.add_part("upload_1", b"x" * (64 * 1024 * 1024 + 1)), af.InvalidArgumentError),
        (lambda u: u.complete("upload_1", []), af.InvalidArgumentError),
        (lambda u: u.complete("upload_1", "part_1"), af.InvalidArgumentTypeError),
        (lambda u: u.complete("upload_1", ["part/1"]), af.InvalidArgumentError),
        (lambda u: u.complete("upload_1", ["part_1"], md5="xyz"), af.InvalidArgumentError),
        (lambda u: u.cancel("a/b"), af.InvalidArgumentError),
        (lambda u: u.cancel("upload_1", max_retries=-1), af.InvalidArgumentError),
        # The client frames these bodies (JSON, or a form with its boundary).
        (lambda u: u.create("a", "user_data", 1, "t/p", extra_headers=CT), af.InvalidArgumentError),
        (lambda u: u.add_part("upload_1", b"x", extra_headers=CT), af.InvalidArgumentError),
        (lambda u: u.complete("upload_1", ["part_1"], extra_headers=CT), af.InvalidArgumentError),
    ],
)
async def test_bad_arguments_raise_at_once(
    local_server: ServerThread, call: object, error: type[Exception]
) -> None:
    async with af.AsyncClient(local_server.api_key, base_url=local_server.openai_base_url) as c:
        with pytest.raises(error):
            call(c.uploads)  # type: ignore[operator]
        await asyncio.sleep(0.01)


# --- Azure's files/import ----------------------------------------------------------------------


@pytest.fixture
def azure_server(tmp_path: pathlib.Path) -> Iterator[ServerThread]:
    with ServerThread(
        tmp_path / "azure-data", api_key="az-key", allow_private_import=True, processing_delay=0.1
    ) as running:
        yield running


async def test_import_url_on_azure(azure_server: ServerThread, origin: AppThread) -> None:
    url = f"{origin.url}/train.jsonl?sv=2024&sig=secret"
    async with af.AsyncClient(
        "az-key", base_url=azure_server.azure_endpoint, provider="azure"
    ) as client:
        imported = await client.files.import_url(url, "train.jsonl", "fine-tune")
        assert imported.status in ("pending", "running")
        done = await client.files.wait_for_processing(imported.id, poll_interval=0.05, max_wait=30)
        assert (done.status, done.bytes) == ("processed", len(JSONL))
        assert await client.files.content(done.id) == JSONL


def test_import_url_sync(azure_server: ServerThread, origin: AppThread) -> None:
    with af.Client("az-key", base_url=azure_server.azure_endpoint, provider="azure") as client:
        imported = client.files.import_url(f"{origin.url}/train.jsonl", "t.jsonl", "fine-tune")
        done = client.files.wait_for_processing(imported.id, poll_interval=0.05, max_wait=30)
        assert done.status == "processed"


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("http://x/a.jsonl", "a.jsonl", "fine-tune"), af.InvalidArgumentError, "Azure"),
    ],
)
async def test_import_url_needs_azure(
    local_server: ServerThread, args: tuple[str, str, str], error: type[Exception], match: str
) -> None:
    async with af.AsyncClient(local_server.api_key, base_url=local_server.openai_base_url) as c:
        with pytest.raises(error, match=match):
            c.files.import_url(*args)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("ftp://x/a.jsonl", "a.jsonl", "fine-tune"), af.InvalidArgumentError),
        (("no url", "a.jsonl", "fine-tune"), af.InvalidArgumentError),
        (("http://[::1", "a.jsonl", "fine-tune"), af.InvalidArgumentError),
        ((3, "a.jsonl", "fine-tune"), af.InvalidArgumentTypeError),
        (("http://x/a", "", "fine-tune"), af.InvalidArgumentError),
        (("http://x/a", "a.jsonl", ""), af.InvalidArgumentError),
    ],
)
async def test_import_url_arguments(
    azure_server: ServerThread, args: tuple[object, ...], error: type[Exception]
) -> None:
    async with af.AsyncClient(
        "az-key", base_url=azure_server.azure_endpoint, provider="azure"
    ) as c:
        with pytest.raises(error) as caught:
            c.files.import_url(*args)  # type: ignore[arg-type]
    assert "secret" not in str(caught.value)


async def test_import_url_takes_no_content_type_header(azure_server: ServerThread) -> None:
    async with af.AsyncClient(
        "az-key", base_url=azure_server.azure_endpoint, provider="azure"
    ) as c:
        with pytest.raises(af.InvalidArgumentError, match=r"(?i)content-type"):
            c.files.import_url("http://x/a.jsonl", "a.jsonl", "fine-tune", extra_headers=CT)
        await asyncio.sleep(0.01)
        assert (await c.files.list()).data == []
