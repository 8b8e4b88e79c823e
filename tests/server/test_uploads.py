"""The Uploads routes: the SDK's chunked upload, Parts by hand, cancel, and what they refuse."""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import pathlib
import time
from typing import Any

import aiohttp
import openai
import pytest

from aikit_files.server import ServerThread
from aikit_files.server._uploads import RECORD_RETENTION

from .conftest import (
    API_KEY,
    MULTIPART,
    FakeClock,
    assert_refused,
    auth,
    disk,
    eventually,
    form,
    url,
)


def test_upload_file_chunked_in_several_parts(sdk: openai.OpenAI, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "large.jsonl"
    path.write_bytes(b'{"n": 12345}\n' * 50_000)  # 650 000 bytes: 5 parts of 150 000
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    upload = sdk.uploads.upload_file_chunked(
        file=path, mime_type="text/jsonl", purpose="fine-tune", part_size=150_000, md5=md5
    )
    assert upload.status == "completed"
    assert upload.file is not None
    assert upload.file.bytes == path.stat().st_size
    assert upload.file.filename == "large.jsonl"
    assert sdk.files.content(upload.file.id).content == path.read_bytes()


def test_upload_with_a_wrong_md5_is_refused(sdk: openai.OpenAI, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"0123456789" * 1000)
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.uploads.upload_file_chunked(
            file=path,
            mime_type="application/octet-stream",
            purpose="assistants",
            part_size=3000,
            md5="0" * 32,
        )
    assert refused.value.status_code == 400


def test_upload_parts_by_hand_in_another_order(sdk: openai.OpenAI) -> None:
    upload = sdk.uploads.create(
        bytes=6, filename="abc.txt", mime_type="text/plain", purpose="assistants"
    )
    assert (upload.status, upload.object) == ("pending", "upload")
    expiry = 7200 if isinstance(sdk, openai.AzureOpenAI) else 3600  # two hours on Azure
    assert upload.expires_at == upload.created_at + expiry
    second = sdk.uploads.parts.create(upload.id, data=b"def")
    first = sdk.uploads.parts.create(upload.id, data=b"abc")
    assert (first.object, first.upload_id) == ("upload.part", upload.id)
    done = sdk.uploads.complete(upload.id, part_ids=[first.id, second.id])
    assert done.file is not None
    assert sdk.files.content(done.file.id).content == b"abcdef"
    with pytest.raises(openai.BadRequestError):
        sdk.uploads.parts.create(upload.id, data=b"more")


def test_cancel_upload(sdk: openai.OpenAI) -> None:
    upload = sdk.uploads.create(
        bytes=3, filename="a.txt", mime_type="text/plain", purpose="assistants"
    )
    part = sdk.uploads.parts.create(upload.id, data=b"abc")
    cancelled = sdk.uploads.cancel(upload.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        sdk.uploads.complete(upload.id, part_ids=[part.id])
    with pytest.raises(openai.NotFoundError):
        sdk.uploads.cancel("upload_0")


@pytest.mark.anyio
async def test_a_part_past_the_part_limit_is_refused(
    client: openai.OpenAI,
    server: ServerThread,
    session: aiohttp.ClientSession,
    data_dir: pathlib.Path,
) -> None:
    upload = client.uploads.create(
        bytes=1024 * 1024, filename="a.txt", mime_type="text/plain", purpose="assistants"
    )
    await assert_refused(
        session,
        data_dir,
        "openai",
        413,
        None,
        "POST",
        url(server, "openai", f"/uploads/{upload.id}/parts"),
        data=form(("data", "d", b"x" * (256 * 1024 + 1))),
        headers={**MULTIPART, **auth("openai")},
    )


@pytest.mark.anyio
@pytest.mark.parametrize("sizes", [[7], [6, 6, 1], [3, 4, 5, 1]])
async def test_a_part_past_the_declared_bytes_is_refused(
    sizes: list[int],
    client: openai.OpenAI,
    server: ServerThread,
    session: aiohttp.ClientSession,
    data_dir: pathlib.Path,
) -> None:
    # An Upload of 6 bytes takes Parts of at most 6 bytes, up to 12 in all (Parts sent again
    # after a lost answer); the one that would pass that is refused, and leaves nothing.
    upload = client.uploads.create(
        bytes=6, filename="a.txt", mime_type="text/plain", purpose="assistants"
    )
    for size in sizes[:-1]:
        client.uploads.parts.create(upload.id, data=b"x" * size)
    error = await assert_refused(
        session,
        data_dir,
        "openai",
        400,
        "data",
        "POST",
        url(server, "openai", f"/uploads/{upload.id}/parts"),
        data=form(("data", "d", b"x" * sizes[-1])),
        headers={**MULTIPART, **auth("openai")},
    )
    assert "6 bytes" in error["message"]


@pytest.fixture
def client_upload(client: openai.OpenAI) -> str:
    upload = client.uploads.create(
        bytes=3, filename="a.txt", mime_type="text/plain", purpose="assistants"
    )
    return upload.id


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({}, 400, "part_ids"),
        ({"part_ids": "part_x"}, 400, "part_ids"),
        ({"part_ids": ["part_" + "0" * 32]}, 400, "part_ids"),
        ({"part_ids": []}, 400, "part_ids"),
        ({"part_ids": [], "md5": 5}, 400, "md5"),
    ],
)
async def test_bad_completes(
    body: dict[str, Any],
    status: int,
    param: str,
    client_upload: str,
    server: ServerThread,
    session: aiohttp.ClientSession,
    data_dir: pathlib.Path,
) -> None:
    await assert_refused(
        session,
        data_dir,
        "openai",
        status,
        param,
        "POST",
        url(server, "openai", f"/uploads/{client_upload}/complete"),
        json=body,
        headers=auth("openai"),
    )


@pytest.fixture
def upload_with_a_part(client: openai.OpenAI) -> tuple[str, str]:
    upload = client.uploads.create(
        bytes=6, filename="a.txt", mime_type="text/plain", purpose="assistants"
    )
    return upload.id, client.uploads.parts.create(upload.id, data=b"abc").id


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "body", "param"),
    [
        ("no data", form(("other", None, b"x")), "other"),
        ("empty form", form(), "data"),
        ("data twice", form(("data", "d", b"x"), ("data", "d", b"y")), "data"),
    ],
)
async def test_bad_parts(
    name: str,
    body: bytes,
    param: str,
    upload_with_a_part: tuple[str, str],
    server: ServerThread,
    session: aiohttp.ClientSession,
    data_dir: pathlib.Path,
) -> None:
    await assert_refused(
        session,
        data_dir,
        "openai",
        400,
        param,
        "POST",
        url(server, "openai", f"/uploads/{upload_with_a_part[0]}/parts"),
        data=body,
        headers={**MULTIPART, **auth("openai")},
    )


def test_a_part_listed_twice_or_too_few_bytes(
    upload_with_a_part: tuple[str, str], client: openai.OpenAI, data_dir: pathlib.Path
) -> None:
    upload_id, part_id = upload_with_a_part
    before = disk(data_dir)
    for part_ids in ([part_id, part_id], [part_id]):
        with pytest.raises(openai.BadRequestError) as refused:
            client.uploads.complete(upload_id, part_ids=part_ids)
        assert refused.value.param == "part_ids"
    assert disk(data_dir) == before


def test_a_retried_complete_answers_as_the_first_and_makes_no_other_file(
    sdk: openai.OpenAI, data_dir: pathlib.Path
) -> None:
    upload = sdk.uploads.create(
        bytes=6, filename="a.txt", mime_type="text/plain", purpose="assistants"
    )
    part_ids = [sdk.uploads.parts.create(upload.id, data=data).id for data in (b"abc", b"def")]
    first = sdk.uploads.complete(upload.id, part_ids=part_ids)
    again = sdk.uploads.complete(upload.id, part_ids=part_ids)
    assert again.model_dump() == first.model_dump()
    assert first.file is not None
    assert [f.id for f in sdk.files.list()] == [first.file.id]
    # Other Parts (or the same in another order) name another completion: refused.
    for other in (part_ids[::-1], part_ids[:1]):
        with pytest.raises(openai.BadRequestError, match="completed"):
            sdk.uploads.complete(upload.id, part_ids=other)
    assert disk(data_dir) >= {f"uploads/{upload.id}/upload.json"}
    assert not any(part_id in name for name in disk(data_dir) for part_id in part_ids)


def feed_fifo(path: pathlib.Path, data: bytes) -> None:
    """Writes ``data`` into the FIFO at ``path`` once its reader has opened it."""
    for _ in range(500):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            time.sleep(0.01)
            continue
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as fifo:
            fifo.write(data)
        return
    raise AssertionError(f"nobody opened {path}")


def test_a_complete_past_the_expiry_holds_up_no_other_request(
    server: ServerThread, client: openai.OpenAI, clock: FakeClock, data_dir: pathlib.Path
) -> None:
    upload = client.uploads.create(
        bytes=3, filename="a.txt", mime_type="text/plain", purpose="assistants"
    )
    part = client.uploads.parts.create(upload.id, data=b"abc")
    # The Part becomes a FIFO: the completion's copy waits on it for as long as we like.
    path = data_dir / "uploads" / upload.id / part.id
    path.unlink()
    os.mkfifo(path)
    meta = data_dir / "uploads" / upload.id / "upload.json"
    with (
        openai.OpenAI(base_url=server.openai_base_url, api_key=API_KEY, max_retries=0) as other,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        completing = pool.submit(other.uploads.complete, upload.id, part_ids=[part.id])
        try:
            eventually(lambda: part.id in meta.read_text(), "the completion begins")
            clock.advance(3600)  # the Upload expires while it completes
            started = time.monotonic()
            assert client.with_options(timeout=5).files.list().data == []
            assert time.monotonic() - started < 2
        finally:
            feed_fifo(path, b"abc")
        done = completing.result(timeout=30)
    assert done.status == "completed"
    assert done.file is not None
    assert client.files.content(done.file.id).content == b"abc"


@pytest.mark.parametrize("end", ["completed", "cancelled", "expired"])
def test_a_finished_upload_is_removed_after_its_retention(
    end: str, sdk: openai.OpenAI, clock: FakeClock, data_dir: pathlib.Path
) -> None:
    upload = sdk.uploads.create(
        bytes=3, filename="a.txt", mime_type="text/plain", purpose="assistants"
    )
    part = sdk.uploads.parts.create(upload.id, data=b"abc")
    if end == "completed":
        done = sdk.uploads.complete(upload.id, part_ids=[part.id])
        assert done.file is not None
    elif end == "cancelled":
        sdk.uploads.cancel(upload.id)
    # Kept until RECORD_RETENTION (an hour) past its expiry: answers as it did.
    clock.advance(upload.expires_at - clock.now + RECORD_RETENTION - 1)
    sdk.files.list()
    assert (data_dir / "uploads" / upload.id / "upload.json").is_file()
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.uploads.parts.create(upload.id, data=b"abc")
    assert end in refused.value.message
    clock.advance(1)
    sdk.files.list()  # any request removes what is due
    assert not (data_dir / "uploads" / upload.id).exists()
    with pytest.raises(openai.NotFoundError):
        sdk.uploads.cancel(upload.id)
    if end == "completed":
        assert done.file is not None
        assert sdk.files.content(done.file.id).content == b"abc"  # the file stays
