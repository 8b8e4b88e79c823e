"""The per-purpose size limits the API documents, refused by ``create`` before any I/O, with
the limit in human units."""

from __future__ import annotations

import pathlib

import pytest

import aikit_files as af
from aikit_files._limits import BATCH_FILE_LIMIT, human_size
from aikit_files.server import ServerThread


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 bytes"),
        (1023, "1,023 bytes"),
        (1024, "1 KiB (1,024 bytes)"),
        (1536, "1.5 KiB (1,536 bytes)"),
        (200 * 1024 * 1024, "200 MiB (209,715,200 bytes)"),
        (1_610_612_736, "1.5 GiB (1,610,612,736 bytes)"),
        (3 * 1024**5, "3072 TiB (3,377,699,720,527,872 bytes)"),
    ],
)
def test_sizes_in_human_units_and_exact(count: int, text: str) -> None:
    assert human_size(count) == text


def test_a_batch_file_over_200_mib_is_refused_before_any_io(
    local_server: ServerThread, tmp_path: pathlib.Path
) -> None:
    big = tmp_path / "requests.jsonl"
    with big.open("wb") as handle:  # sparse: no disk space used
        handle.truncate(BATCH_FILE_LIMIT + 1)
    with af.Client(local_server.api_key, base_url=local_server.openai_base_url) as client:
        with pytest.raises(af.InvalidArgumentError) as raised:
            client.files.create(big, "batch")
        assert str(raised.value) == (
            "the file holds 200 MiB (209,715,201 bytes), more than the API accepts for "
            "purpose 'batch' (200 MiB (209,715,200 bytes))"
        )
        # The same size under another purpose is not this check's business; the server
        # never saw the refused one.
        assert client.files.list().data == []


@pytest.mark.anyio
async def test_the_async_create_raises_at_the_call_not_in_the_task(
    local_server: ServerThread,
) -> None:
    blob = bytes(BATCH_FILE_LIMIT + 1)
    async with af.AsyncClient(
        local_server.api_key, base_url=local_server.openai_base_url
    ) as client:
        with pytest.raises(af.InvalidArgumentError, match="for purpose 'batch'"):
            client.files.create(blob, "batch", on_terminate=lambda result: None)
        # A file of exactly the limit passes the check (and is the server's to judge).
        file = await client.files.create(bytes(1024), "batch", filename="ok.jsonl")
        assert file.purpose == "batch"
