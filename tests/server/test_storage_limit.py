"""``max_storage``: the total size of the files stored; an upload past it is refused, and leaves
nothing behind."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import aiohttp
import openai
import pytest

from aikit_files.cli._demo import serving_directory
from aikit_files.server import ServerThread

from .conftest import (
    API_KEY,
    API_VERSION,
    MULTIPART,
    FakeClock,
    assert_refused,
    auth,
    disk,
    eventually,
    form,
    url,
)

LIMIT = 10


@pytest.fixture
def small(data_dir: pathlib.Path) -> Iterator[ServerThread]:
    """A server that stores 10 bytes of files at most."""
    with ServerThread(
        data_dir,
        api_key=API_KEY,
        max_storage=LIMIT,
        processing_delay=0,
        allow_private_import=True,  # the origin of the import test is on loopback
    ) as running:
        yield running


@pytest.fixture
def sdk(small: ServerThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=small.openai_base_url, api_key=API_KEY, max_retries=0) as client:
        yield client


def refused_for_storage(error: openai.APIStatusError) -> bool:
    return error.status_code == 400 and "storage quota" in error.message


@pytest.mark.anyio
@pytest.mark.parametrize("flavour", ["openai", "azure"])
async def test_a_file_past_the_limit_is_refused_and_leaves_nothing(
    flavour: str,
    small: ServerThread,
    sdk: openai.OpenAI,
    session: aiohttp.ClientSession,
    data_dir: pathlib.Path,
) -> None:
    sdk.files.create(file=b"123456", purpose="assistants")
    error = await assert_refused(
        session,
        data_dir,
        flavour,
        400,
        None,
        "POST",
        url(small, flavour, "/files").with_query({"api-version": API_VERSION}),
        data=form(("purpose", None, b"assistants"), ("file", "a.txt", b"12345")),
        headers={**MULTIPART, **auth(flavour)},
    )
    if flavour == "azure":
        assert error["code"] == "quotaExceeded"
    sdk.files.create(file=b"1234", purpose="assistants")  # exactly up to the limit


def test_deleting_files_makes_room(sdk: openai.OpenAI) -> None:
    first = sdk.files.create(file=b"1234567890", purpose="assistants")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.files.create(file=b"1", purpose="assistants")
    assert refused_for_storage(refused.value)
    sdk.files.delete(first.id)
    sdk.files.create(file=b"1", purpose="assistants")


def test_uploads_past_the_limit_are_refused(sdk: openai.OpenAI, data_dir: pathlib.Path) -> None:
    sdk.files.create(file=b"12", purpose="assistants")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.uploads.create(bytes=9, filename="a.txt", mime_type="text/plain", purpose="assistants")
    assert refused_for_storage(refused.value)
    upload = sdk.uploads.create(
        bytes=8, filename="a.txt", mime_type="text/plain", purpose="assistants"
    )
    first = sdk.uploads.parts.create(upload.id, data=b"1234")
    other = sdk.files.create(file=b"123", purpose="assistants")  # 2 + 4 + 3: 1 byte left
    before = disk(data_dir)
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.uploads.parts.create(upload.id, data=b"1234")
    assert refused_for_storage(refused.value)
    assert disk(data_dir) == before
    sdk.files.delete(other.id)
    second = sdk.uploads.parts.create(upload.id, data=b"5678")
    # The Parts hold their room: no file may take it before the completion...
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.files.create(file=b"1", purpose="assistants")
    assert refused_for_storage(refused.value)
    # ... which turns it into the file's.
    done = sdk.uploads.complete(upload.id, part_ids=[first.id, second.id])
    assert done.file is not None
    assert done.file.bytes == 8
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.files.create(file=b"1", purpose="assistants")
    assert refused_for_storage(refused.value)


def _parts_on_disk(data_dir: pathlib.Path) -> int:
    return sum(
        path.stat().st_size for path in (data_dir / "uploads").rglob("part_*") if path.is_file()
    )


@pytest.mark.parametrize("end", ["cancel", "expire", "restart"])
def test_parts_across_uploads_hold_no_more_than_the_limit(
    end: str, data_dir: pathlib.Path, clock: FakeClock
) -> None:
    limit = 8 * 1024
    with (
        ServerThread(data_dir, api_key=API_KEY, max_storage=limit, clock=clock) as server,
        openai.OpenAI(base_url=server.openai_base_url, api_key=API_KEY, max_retries=0) as sdk,
    ):
        uploads = [
            sdk.uploads.create(
                bytes=limit, filename="a.txt", mime_type="text/plain", purpose="assistants"
            )
            for _ in range(8)
        ]
        # Two Parts of 1 KiB each: the first four Uploads fill the limit, the others are refused.
        for number, upload in enumerate(uploads):
            for _ in range(2):
                if number < 4:
                    sdk.uploads.parts.create(upload.id, data=b"x" * 1024)
                    continue
                with pytest.raises(openai.BadRequestError) as refused:
                    sdk.uploads.parts.create(upload.id, data=b"x" * 1024)
                assert refused_for_storage(refused.value)
        assert _parts_on_disk(data_dir) == limit
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.files.create(file=b"1", purpose="assistants")
        assert refused_for_storage(refused.value)
        if end == "cancel":
            sdk.uploads.cancel(uploads[0].id)
        elif end == "expire":
            clock.advance(3601)
        if end != "restart":
            sdk.files.create(file=b"1", purpose="assistants")
            # a cancel drops one Upload's two Parts; expiry every Upload's
            assert _parts_on_disk(data_dir) == (limit - 2 * 1024 if end == "cancel" else 0)
    if end == "restart":
        with (
            ServerThread(data_dir, api_key=API_KEY, max_storage=limit, clock=clock) as server,
            openai.OpenAI(base_url=server.openai_base_url, api_key=API_KEY, max_retries=0) as sdk,
        ):
            with pytest.raises(openai.BadRequestError) as refused:
                sdk.files.create(file=b"1", purpose="assistants")
            assert refused_for_storage(refused.value)


def test_the_files_stored_before_a_restart_count(data_dir: pathlib.Path) -> None:
    with (
        ServerThread(data_dir, api_key=API_KEY) as server,
        openai.OpenAI(base_url=server.openai_base_url, api_key=API_KEY) as sdk,
    ):
        sdk.files.create(file=b"12345678", purpose="assistants")
    with (
        ServerThread(data_dir, api_key=API_KEY, max_storage=LIMIT) as server,
        openai.OpenAI(base_url=server.openai_base_url, api_key=API_KEY, max_retries=0) as sdk,
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.files.create(file=b"123", purpose="assistants")
        assert refused_for_storage(refused.value)
        sdk.files.create(file=b"12", purpose="assistants")


@pytest.fixture
def origin(tmp_path: pathlib.Path) -> Iterator[str]:
    root = tmp_path / "origin"
    root.mkdir()
    (root / "big.txt").write_bytes(b"x" * 11)
    (root / "fits.txt").write_bytes(b"x" * 10)

    with serving_directory(root) as url:
        yield url


def test_an_import_past_the_limit_ends_in_error(
    small: ServerThread, origin: str, data_dir: pathlib.Path
) -> None:
    with openai.AzureOpenAI(
        azure_endpoint=small.azure_endpoint, api_key=API_KEY, api_version=API_VERSION
    ) as azure:

        def imported(name: str) -> openai.types.FileObject:
            file = azure.post(
                "/files/import",
                body={"purpose": "assistants", "filename": name, "content_url": f"{origin}/{name}"},
                cast_to=openai.types.FileObject,
            )
            eventually(
                lambda: azure.files.retrieve(file.id).status in ("processed", "error"), "done"
            )
            return azure.files.retrieve(file.id)

        failed = imported("big.txt")
        assert failed.status == "error"
        assert "quotaExceeded" in (failed.status_details or "")
        assert not any(name.startswith("tmp/") and name != "tmp" for name in disk(data_dir))
        assert imported("fits.txt").status == "processed"
