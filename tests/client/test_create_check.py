"""``create(..., check=True)``: the file is checked before any byte is sent; a file with problems
ends the call with ``InvalidFileError`` through the callbacks, and the server holds nothing."""

from __future__ import annotations

import io
import json
import pathlib
from collections.abc import AsyncIterator

import pytest

import aikit_files as af
from aikit_files.server import ServerThread

pytestmark = pytest.mark.anyio

GOOD = b"".join(
    json.dumps(
        {"custom_id": f"r{n}", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}}
    ).encode()
    + b"\n"
    for n in range(3)
)
#: Line 2 repeats line 1's custom_id.
BAD = GOOD.replace(b'"r1"', b'"r0"')


async def test_a_valid_file_is_checked_then_uploaded(
    client: af.AsyncClient, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_bytes(GOOD)
    made = await client.files.create(path, "batch", check=True)
    assert await client.files.content(made.id) == GOOD
    blob = await client.files.create(GOOD, "batch", filename="blob.jsonl", check=True)
    assert blob.bytes == len(GOOD)


@pytest.mark.parametrize("as_path", [True, False])
async def test_a_file_with_problems_is_not_sent_and_the_callbacks_hear_why(
    client: af.AsyncClient, tmp_path: pathlib.Path, as_path: bool
) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_bytes(BAD)
    results: list[tuple[str, af.Result]] = []
    task = client.files.create(
        path if as_path else BAD,
        "batch",
        filename="requests.jsonl",
        check=True,
        on_error=lambda result: results.append(("error", result)),
        on_response=lambda result: results.append(("response", result)),
        on_terminate=lambda result: results.append(("terminate", result)),
    )
    with pytest.raises(af.InvalidFileError) as raised:
        await task
    check = raised.value.check
    assert isinstance(check, af.FileCheck)
    assert [(p.line, p.field) for p in check.problems] == [(2, "custom_id")]
    assert isinstance(raised.value, af.InvalidArgumentError)
    assert "'requests.jsonl' is not a valid batch file: 1 problem" in str(raised.value)
    assert [kind for kind, _ in results] == ["error", "terminate"]
    result = results[0][1]
    assert not result.success
    assert result.errors[0].type == "InvalidFileError"
    assert "custom_id" in result.errors[0].message
    assert (await client.files.list()).data == []


async def test_without_check_the_same_file_is_sent(client: af.AsyncClient) -> None:
    made = await client.files.create(BAD, "batch", filename="requests.jsonl")
    assert made.bytes == len(BAD)


async def _chunks() -> AsyncIterator[bytes]:
    yield GOOD


@pytest.mark.parametrize("source", [io.BytesIO(GOOD), _chunks()], ids=["file object", "stream"])
async def test_check_needs_a_path_or_bytes(client: af.AsyncClient, source: object) -> None:
    with pytest.raises(af.InvalidArgumentError, match="check=True reads the file"):
        client.files.create(source, "batch", filename="r.jsonl", check=True)  # type: ignore[arg-type]
    if hasattr(source, "aclose"):
        await source.aclose()


async def test_check_must_be_a_bool(client: af.AsyncClient) -> None:
    with pytest.raises(af.InvalidArgumentTypeError, match="check must be True or False"):
        client.files.create(GOOD, "batch", check="yes")  # type: ignore[arg-type]


def test_the_sync_client_raises_the_same_error(local_server: ServerThread) -> None:
    with af.Client(local_server.api_key, base_url=local_server.openai_base_url) as client:
        with pytest.raises(af.InvalidFileError, match="custom_id"):
            client.files.create(BAD, "batch", filename="requests.jsonl", check=True)
        assert client.files.list().data == []
