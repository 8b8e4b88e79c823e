"""Conformance: the official ``openai`` SDK drives the server, on the OpenAI and the Azure routes."""

from __future__ import annotations

import pathlib

import openai
import pytest

from aikit_files.server import ServerThread

from .conftest import API_KEY, FakeClock


@pytest.fixture
def jsonl(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "train.jsonl"
    path.write_bytes(b'{"prompt": "a", "completion": "b"}\n' * 100)
    return path


def test_local_server_fixture_serves_the_sdk(local_server: ServerThread) -> None:
    with openai.OpenAI(
        base_url=local_server.openai_base_url, api_key=local_server.api_key, max_retries=0
    ) as sdk:
        created = sdk.files.create(file=b"hello", purpose="user_data")
        assert sdk.files.content(created.id).content == b"hello"


def test_create_from_a_path_with_expires_after(sdk: openai.OpenAI, jsonl: pathlib.Path) -> None:
    created = sdk.files.create(
        file=jsonl, purpose="fine-tune", expires_after={"anchor": "created_at", "seconds": 3600}
    )
    assert created.id.startswith("file-")
    assert created.object == "file"
    assert created.bytes == jsonl.stat().st_size
    assert created.filename == "train.jsonl"
    assert created.purpose == "fine-tune"
    assert created.expires_at == created.created_at + 3600
    assert sdk.files.retrieve(created.id).model_dump() == created.model_dump()


@pytest.mark.parametrize("filename", ['say "hi".txt', "two\r\nlines.txt", "100%.txt"])
def test_a_filename_comes_back_as_the_sdk_sent_it(sdk: openai.OpenAI, filename: str) -> None:
    # The SDK percent-encodes '"', CR and LF in the form's quoted filename (WHATWG).
    created = sdk.files.create(file=(filename, b"x"), purpose="assistants")
    assert created.filename == filename
    assert sdk.files.retrieve(created.id).filename == filename


def test_create_from_an_open_file(sdk: openai.OpenAI, jsonl: pathlib.Path) -> None:
    with jsonl.open("rb") as handle:
        created = sdk.files.create(file=handle, purpose="assistants")
    assert created.bytes == jsonl.stat().st_size
    assert created.expires_at is None
    assert sdk.files.content(created.id).content == jsonl.read_bytes()


def test_openai_files_are_processed_at_once(client: openai.OpenAI, jsonl: pathlib.Path) -> None:
    created = client.files.create(file=jsonl, purpose="fine-tune")
    assert created.status == "processed"
    assert created.status_details is None


def test_batch_files_expire_after_30_days_by_default(
    sdk: openai.OpenAI, jsonl: pathlib.Path
) -> None:
    created = sdk.files.create(file=jsonl, purpose="batch")
    assert created.expires_at == created.created_at + 30 * 24 * 3600


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_pages_through_files_created_in_the_same_second(
    sdk: openai.OpenAI, order: str
) -> None:
    created = [
        sdk.files.create(file=(f"f{i}.txt", f"file {i}".encode()), purpose="user_data").id
        for i in range(23)
    ]
    assert len({sdk.files.retrieve(i).created_at for i in created}) == 1
    listed = [f.id for f in sdk.files.list(limit=5, order=order)]  # type: ignore[arg-type]
    assert listed == (created if order == "asc" else created[::-1])


def test_list_page_fields_and_default_order(sdk: openai.OpenAI, clock: FakeClock) -> None:
    ids = []
    for i in range(3):
        ids.append(sdk.files.create(file=(f"{i}.txt", b"x"), purpose="assistants").id)
        clock.advance(1)
    page = sdk.files.list(limit=2)
    assert [f.id for f in page.data] == [ids[2], ids[1]]
    assert page.has_more is True
    extra = page.model_extra or {}
    assert (extra["first_id"], extra["last_id"], extra["object"]) == (ids[2], ids[1], "list")
    rest = sdk.files.list(limit=2, after=ids[1])
    assert [f.id for f in rest.data] == [ids[0]]
    assert rest.has_more is False


def test_list_filters_by_purpose(sdk: openai.OpenAI) -> None:
    kept = sdk.files.create(file=("a.txt", b"a"), purpose="assistants")
    sdk.files.create(file=("b.txt", b"b"), purpose="user_data")
    assert [f.id for f in sdk.files.list(purpose="assistants")] == [kept.id]


def test_content_and_delete(sdk: openai.OpenAI, jsonl: pathlib.Path) -> None:
    created = sdk.files.create(file=jsonl, purpose="user_data")
    assert sdk.files.content(created.id).read() == jsonl.read_bytes()
    deleted = sdk.files.delete(created.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "file")
    assert created.id not in [f.id for f in sdk.files.list()]
    for call in (sdk.files.retrieve, sdk.files.content, sdk.files.delete):
        with pytest.raises(openai.NotFoundError):
            call(created.id)


def test_every_answer_has_a_request_id(sdk: openai.OpenAI, jsonl: pathlib.Path) -> None:
    created = sdk.files.create(file=jsonl, purpose="fine-tune")
    assert created._request_id is not None
    assert created._request_id.startswith("req_")
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.files.retrieve("file-0123")
    assert missing.value.request_id is not None
    assert missing.value.request_id != created._request_id


def test_exceptions(sdk: openai.OpenAI, server: ServerThread, jsonl: pathlib.Path) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve("file-0123")
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.files.create(file=jsonl, purpose="nope")  # type: ignore[arg-type]
    assert "purpose" in bad.value.message
    with pytest.raises(openai.BadRequestError):
        sdk.files.create(
            file=jsonl,
            purpose="assistants",
            expires_after={"anchor": "created_at", "seconds": 60},
        )
    wrong = sdk.with_options(api_key="sk-wrong")
    with pytest.raises(openai.AuthenticationError):
        wrong.files.list()


def test_sdk_keys_are_checked(server: ServerThread) -> None:
    with (
        openai.AzureOpenAI(
            azure_endpoint=server.azure_endpoint,
            api_key="sk-wrong",
            api_version="2024-10-21",
            max_retries=0,
        ) as wrong,
        pytest.raises(openai.AuthenticationError),
    ):
        wrong.files.list()
    with openai.OpenAI(base_url=server.openai_base_url, api_key=API_KEY, max_retries=0) as right:
        assert right.files.list().data == []
