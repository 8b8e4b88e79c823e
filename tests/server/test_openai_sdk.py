"""Conformance: the official ``openai`` SDK against the local server's OpenAI routes."""

from __future__ import annotations

import pathlib

import openai
import pytest

from aikit_files.server import ServerThread


@pytest.fixture
def client(local_server: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=local_server.openai_base_url, api_key=local_server.api_key, max_retries=0
    )


@pytest.fixture
def jsonl(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "train.jsonl"
    path.write_bytes(b'{"prompt": "a", "completion": "b"}\n' * 10)
    return path


def test_create_from_path_with_expires_after(client: openai.OpenAI, jsonl: pathlib.Path) -> None:
    created = client.files.create(
        file=jsonl, purpose="fine-tune", expires_after={"anchor": "created_at", "seconds": 3600}
    )
    assert created.id.startswith("file-")
    assert created.object == "file"
    assert created.bytes == jsonl.stat().st_size
    assert created.filename == "train.jsonl"
    assert created.purpose == "fine-tune"
    assert created.status == "processed"
    assert created.expires_at == created.created_at + 3600
    assert client.files.retrieve(created.id) == created


def test_create_from_open_file(client: openai.OpenAI, jsonl: pathlib.Path) -> None:
    with jsonl.open("rb") as handle:
        created = client.files.create(file=handle, purpose="assistants")
    assert created.bytes == jsonl.stat().st_size
    assert created.expires_at is None
    assert client.files.content(created.id).content == jsonl.read_bytes()


def test_delete(client: openai.OpenAI, jsonl: pathlib.Path) -> None:
    created = client.files.create(file=jsonl, purpose="user_data")
    deleted = client.files.delete(created.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "file")
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.files.delete(created.id)


def test_errors(local_server: ServerThread, client: openai.OpenAI, jsonl: pathlib.Path) -> None:
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve("file-0123")
    with pytest.raises(openai.BadRequestError) as bad:
        client.files.create(file=jsonl, purpose="nope")  # type: ignore[arg-type]
    assert bad.value.param == "purpose"
    wrong = openai.OpenAI(base_url=local_server.openai_base_url, api_key="sk-other", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.files.list()
