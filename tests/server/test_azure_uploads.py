"""Uploads on the Azure routes, where Azure's spec (2024-10-21) differs from OpenAI's: 9 GiB and
two hours, Parts as large as a file, no ``expires_after``, answers as the spec draws them; and
the file a completed Upload makes, on either route, is a file like any other."""

from __future__ import annotations

import base64
import io
import pathlib
from collections.abc import Iterator
from typing import Any, Literal

import aiohttp
import openai
import pytest
import yarl

from aikit_files._limits import (
    AZURE_UPLOAD_EXPIRY_SECONDS,
    AZURE_UPLOAD_LIMIT,
    BATCH_FILE_LIMIT,
    UPLOAD_EXPIRY_SECONDS,
    UPLOAD_LIMIT,
)
from aikit_files.server import ServerThread

from .conftest import (
    API_KEY,
    API_VERSION,
    MULTIPART,
    FakeClock,
    assert_refused,
    auth,
    eventually,
    form,
    url,
)

#: The fixture server's limits (see conftest): a file, a batch file, an OpenAI Part, an Upload
#: on each route.
FILE_LIMIT = 1024 * 1024
BATCH_LIMIT = 512 * 1024
OPENAI_PART_LIMIT = 256 * 1024
OPENAI_LIMIT = 1024 * 1024
AZURE_LIMIT = 1152 * 1024


def route(server: ServerThread, flavour: str, path: str) -> yarl.URL:
    """The route's URL, with ``api-version`` on the Azure routes."""
    target = url(server, flavour, path)
    return target.with_query({"api-version": API_VERSION}) if flavour == "azure" else target


def upload_body(size: int, purpose: str = "assistants") -> dict[str, Any]:
    """The JSON body of a new Upload of ``size`` bytes."""
    filename = "u.jsonl" if purpose in ("batch", "fine-tune") else "u.txt"
    return {"bytes": size, "filename": filename, "mime_type": "text/plain", "purpose": purpose}


def settled(sdk: openai.OpenAI, file_id: str) -> openai.types.FileObject:
    """The file once its background processing (if any) has stored an outcome."""
    eventually(lambda: sdk.files.retrieve(file_id).status in ("processed", "error"), "processing")
    return sdk.files.retrieve(file_id)


# --- the figures -----------------------------------------------------------------------------


@pytest.fixture
def default_server(data_dir: pathlib.Path, clock: FakeClock) -> Iterator[ServerThread]:
    """A server with the real limits (an Upload's size is only announced: nothing is sent)."""
    with ServerThread(data_dir, api_key=API_KEY, clock=clock) as running:
        yield running


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("flavour", "limit", "expiry"),
    [
        ("openai", UPLOAD_LIMIT, UPLOAD_EXPIRY_SECONDS),
        ("azure", AZURE_UPLOAD_LIMIT, AZURE_UPLOAD_EXPIRY_SECONDS),
    ],
)
async def test_the_upload_limit_and_expiry_of_each_flavour(
    flavour: str,
    limit: int,
    expiry: int,
    default_server: ServerThread,
    session: aiohttp.ClientSession,
    data_dir: pathlib.Path,
) -> None:
    target = route(default_server, flavour, "/uploads")
    for size, purpose in ((limit, "fine-tune"), (BATCH_FILE_LIMIT, "batch")):
        async with session.post(
            target, json=upload_body(size, purpose), headers=auth(flavour)
        ) as response:
            assert response.status == 200
            upload = await response.json()
        assert (upload["bytes"], upload["status"]) == (size, "pending")
        assert upload["expires_at"] == upload["created_at"] + expiry
        error = await assert_refused(
            session,
            data_dir,
            flavour,
            400,
            "bytes",
            "POST",
            target,
            json=upload_body(size + 1, purpose),
            headers=auth(flavour),
        )
        assert str(size) in error["message"]


@pytest.mark.anyio
@pytest.mark.parametrize(("flavour", "limit"), [("openai", OPENAI_LIMIT), ("azure", AZURE_LIMIT)])
async def test_options_shrink_the_upload_limit_of_each_flavour(
    flavour: str,
    limit: int,
    server: ServerThread,
    session: aiohttp.ClientSession,
    data_dir: pathlib.Path,
) -> None:
    # upload_limit and azure_upload_limit: the fixture's Uploads are small on both routes.
    async with session.post(
        route(server, flavour, "/uploads"), json=upload_body(limit), headers=auth(flavour)
    ) as response:
        assert response.status == 200
    await assert_refused(
        session,
        data_dir,
        flavour,
        400,
        "bytes",
        "POST",
        route(server, flavour, "/uploads"),
        json=upload_body(limit + 1),
        headers=auth(flavour),
    )


@pytest.mark.anyio
@pytest.mark.parametrize(("purpose", "limit"), [("assistants", FILE_LIMIT), ("batch", BATCH_LIMIT)])
async def test_an_azure_part_may_be_as_large_as_a_file_of_its_purpose(
    purpose: str,
    limit: int,
    server: ServerThread,
    session: aiohttp.ClientSession,
    data_dir: pathlib.Path,
) -> None:
    async def new_upload(size: int) -> str:
        async with session.post(
            route(server, "azure", "/uploads"),
            json=upload_body(size, purpose),
            headers=auth("azure"),
        ) as response:
            assert response.status == 200
            return str((await response.json())["id"])

    # One Part of the file limit, four times OpenAI's Part limit (twice, for batch).
    upload_id = await new_upload(limit)
    async with session.post(
        route(server, "azure", f"/uploads/{upload_id}/parts"),
        data=io.BytesIO(form(("data", "d", b"x" * limit))),
        headers={**MULTIPART, **auth("azure")},
    ) as response:
        assert response.status == 200
    # One byte more is refused as too large. (A batch Upload holds a batch file at most, so the
    # Part would pass its bytes too: the Part's limit is what refuses it.)
    upload_id = await new_upload(limit if purpose == "batch" else limit + 1)
    error = await assert_refused(
        session,
        data_dir,
        "azure",
        413,
        None,
        "POST",
        route(server, "azure", f"/uploads/{upload_id}/parts"),
        data=io.BytesIO(form(("data", "d", b"x" * (limit + 1)))),
        headers={**MULTIPART, **auth("azure")},
    )
    assert f"{limit} bytes" in error["message"]


@pytest.mark.anyio
async def test_the_openai_part_limit_stays_on_the_openai_routes(
    server: ServerThread, session: aiohttp.ClientSession, data_dir: pathlib.Path
) -> None:
    # An Upload made on Azure's routes takes Parts on OpenAI's too, by OpenAI's rules.
    async with session.post(
        route(server, "azure", "/uploads"), json=upload_body(FILE_LIMIT), headers=auth("azure")
    ) as response:
        upload_id = (await response.json())["id"]
    await assert_refused(
        session,
        data_dir,
        "openai",
        413,
        None,
        "POST",
        route(server, "openai", f"/uploads/{upload_id}/parts"),
        data=form(("data", "d", b"x" * (OPENAI_PART_LIMIT + 1))),
        headers={**MULTIPART, **auth("openai")},
    )


# --- expires_after -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_expires_after_is_an_unknown_argument_on_azure(
    server: ServerThread, session: aiohttp.ClientSession, data_dir: pathlib.Path
) -> None:
    body = {**upload_body(3), "expires_after": {"anchor": "created_at", "seconds": 3600}}
    error = await assert_refused(
        session,
        data_dir,
        "azure",
        400,
        "expires_after",
        "POST",
        route(server, "azure", "/uploads"),
        json=body,
        headers=auth("azure"),
    )
    assert error["code"] == "invalidPayload"
    assert "expires_after" in error["message"]


def test_expires_after_of_an_openai_upload_is_its_files(client: openai.OpenAI) -> None:
    upload = client.uploads.create(
        bytes=3,
        filename="a.txt",
        mime_type="text/plain",
        purpose="assistants",
        expires_after={"anchor": "created_at", "seconds": 7200},
    )
    part = client.uploads.parts.create(upload.id, data=b"abc")
    done = client.uploads.complete(upload.id, part_ids=[part.id])
    assert done.file is not None
    assert done.file.expires_at == done.file.created_at + 7200


# --- expiry ------------------------------------------------------------------------------------


def test_an_azure_upload_stays_open_two_hours(
    client: openai.OpenAI, azure: openai.AzureOpenAI, clock: FakeClock
) -> None:
    def new(sdk: openai.OpenAI) -> str:
        return sdk.uploads.create(
            bytes=6, filename="a.txt", mime_type="text/plain", purpose="assistants"
        ).id

    on_azure, on_openai = new(azure), new(client)
    clock.advance(UPLOAD_EXPIRY_SECONDS)
    with pytest.raises(openai.BadRequestError, match="expired"):
        client.uploads.parts.create(on_openai, data=b"abc")
    azure.uploads.parts.create(on_azure, data=b"abc")
    clock.advance(AZURE_UPLOAD_EXPIRY_SECONDS - UPLOAD_EXPIRY_SECONDS - 1)
    azure.uploads.parts.create(on_azure, data=b"def")
    clock.advance(1)
    with pytest.raises(openai.BadRequestError, match="expired"):
        azure.uploads.parts.create(on_azure, data=b"ghi")
    with pytest.raises(openai.BadRequestError, match="expired"):
        azure.uploads.cancel(on_azure)


# --- the answers' shapes -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_azure_answers_as_its_spec_draws_them(
    server: ServerThread, session: aiohttp.ClientSession
) -> None:
    headers = auth("azure")
    # UploadFile_Start: 200, an UploadResource, and a Location.
    async with session.post(
        route(server, "azure", "/uploads"), json=upload_body(6), headers=headers
    ) as response:
        assert response.status == 200
        upload = await response.json()
        assert response.headers["Location"] == f"{server.url}/openai/uploads/{upload['id']}"
    assert upload["object"] == "upload"
    assert (upload["bytes"], upload["filename"], upload["purpose"]) == (6, "u.txt", "assistants")
    assert upload["status"] == "pending"
    assert upload["expires_at"] == upload["created_at"] + AZURE_UPLOAD_EXPIRY_SECONDS
    assert upload.get("file") is None
    # UploadFile_Part: 200, an UploadPartResource with its azure_block_id.
    parts = []
    for data in (b"abc", b"def"):
        async with session.post(
            route(server, "azure", f"/uploads/{upload['id']}/parts"),
            data=form(("data", "d", data)),
            headers={**MULTIPART, **headers},
        ) as response:
            assert response.status == 200
            assert "Location" not in response.headers
            parts.append(await response.json())
    for part in parts:
        assert (part["object"], part["upload_id"]) == ("upload.part", upload["id"])
        assert isinstance(part["created_at"], int)
        assert len(base64.b64decode(part["azure_block_id"], validate=True)) == 16
    assert parts[0]["azure_block_id"] != parts[1]["azure_block_id"]
    # UploadFile_Complete: 200, the UploadResource with its File; the block ids give the order.
    async with session.post(
        route(server, "azure", f"/uploads/{upload['id']}/complete"),
        json={"part_ids": [parts[1]["azure_block_id"], parts[0]["azure_block_id"]]},
        headers=headers,
    ) as response:
        assert response.status == 200
        done = await response.json()
    assert (done["id"], done["object"], done["status"]) == (upload["id"], "upload", "completed")
    file = done["file"]
    assert (file["object"], file["bytes"], file["filename"]) == ("file", 6, "u.txt")
    assert (file["purpose"], file["status"]) == ("assistants", "pending")
    async with session.get(
        route(server, "azure", f"/files/{file['id']}/content"), headers=headers
    ) as response:
        assert await response.read() == b"defabc"
    # UploadFile_Cancel: 200, the UploadResource, cancelled.
    async with session.post(
        route(server, "azure", "/uploads"), json=upload_body(1), headers=headers
    ) as response:
        other = await response.json()
    async with session.post(
        route(server, "azure", f"/uploads/{other['id']}/cancel"), headers=headers
    ) as response:
        assert response.status == 200
        cancelled = await response.json()
    assert (cancelled["id"], cancelled["object"], cancelled["status"]) == (
        other["id"],
        "upload",
        "cancelled",
    )


@pytest.mark.anyio
async def test_openai_creates_an_upload_without_a_location(
    server: ServerThread, session: aiohttp.ClientSession
) -> None:
    async with session.post(
        route(server, "openai", "/uploads"), json=upload_body(6), headers=auth("openai")
    ) as response:
        assert response.status == 200
        assert "Location" not in response.headers
        upload = await response.json()
    assert upload["expires_at"] == upload["created_at"] + UPLOAD_EXPIRY_SECONDS


# --- the file a completed Upload makes ---------------------------------------------------------


@pytest.fixture
def training(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "train.jsonl"
    path.write_bytes(b'{"prompt": "p", "completion": "c"}\n' * 20_000)  # 700 000 bytes
    return path


@pytest.mark.parametrize("flavour", ["openai", "azure"])
def test_a_completed_upload_is_a_file_like_any_other(
    flavour: str,
    client: openai.OpenAI,
    azure: openai.AzureOpenAI,
    clock: FakeClock,
    training: pathlib.Path,
) -> None:
    sdk = azure if flavour == "azure" else client
    # Parts past OpenAI's Part limit on Azure, where a Part may be as large as a file.
    part_size = 300_000 if flavour == "azure" else 200_000
    upload = sdk.uploads.upload_file_chunked(
        file=training, mime_type="text/jsonl", purpose="fine-tune", part_size=part_size
    )
    assert upload.status == "completed"
    assert upload.file is not None
    file_id = upload.file.id
    if flavour == "azure":
        # Azure's lifecycle: pending, running, then processed once the JSON Lines are checked.
        assert str(upload.file.status) == "pending"
        assert str(azure.files.retrieve(file_id).status) == "pending"
        clock.advance(5)  # half the fixture server's processing delay
        assert str(azure.files.retrieve(file_id).status) == "running"
        assert str(client.files.retrieve(file_id).status) == "running"
        clock.advance(5)
    else:
        assert upload.file.status == "processed"
    expected = training.read_bytes()
    for reader in (client, azure):
        done = settled(reader, file_id)
        assert (done.status, done.status_details) == ("processed", None)
        assert (done.bytes, done.filename, done.purpose) == (
            len(expected),
            "train.jsonl",
            "fine-tune",
        )
        assert [f.id for f in reader.files.list(purpose="fine-tune")] == [file_id]
        assert reader.files.content(file_id).content == expected
    # And it goes like any other file.
    assert sdk.files.delete(file_id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(file_id)


@pytest.mark.parametrize("purpose", ["fine-tune", "batch"])
def test_an_azure_upload_of_invalid_json_lines_ends_in_error(
    purpose: Literal["fine-tune", "batch"],
    azure: openai.AzureOpenAI,
    client: openai.OpenAI,
    clock: FakeClock,
) -> None:
    content = b'{"custom_id": "a"}\n[1, 2]\n'
    upload = azure.uploads.create(
        bytes=len(content), filename="in.jsonl", mime_type="text/jsonl", purpose=purpose
    )
    part = azure.uploads.parts.create(upload.id, data=content)
    done = azure.uploads.complete(upload.id, part_ids=[(part.model_extra or {})["azure_block_id"]])
    assert done.file is not None
    assert str(done.file.status) == "pending"
    clock.advance(10)
    failed = settled(azure, done.file.id)
    assert failed.status == "error"
    assert "Line 2 is not a JSON object" in (failed.status_details or "")
    assert client.files.retrieve(done.file.id).status == "error"
