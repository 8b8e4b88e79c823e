"""Journals never get stuck: a journal that does not fit, or whose Upload the server refuses
(source rewritten in place, Upload cancelled or unknown, a Part id the server never gave), is
discarded with one log line and the upload starts over, once; a journal whose Upload an earlier
run completed yields that run's file, not a second one."""

from __future__ import annotations

import json
import logging
import os
import pathlib
from typing import Any

import pytest

import aikit_files as af
from aikit_files.server import ServerThread

from .conftest import pending_uploads, server_files

pytestmark = pytest.mark.anyio

PART = 64 * 1024
LARGE: dict[str, Any] = {"upload_threshold": 256 * 1024, "part_size": PART, "max_concurrency": 1}
CONTENT = os.urandom(12 * PART + 5)
PARTS = 13
UNKNOWN_PART = "part_" + "0" * 32


@pytest.fixture
def source(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "big.bin"
    path.write_bytes(CONTENT)
    return path


async def journal_of(
    client: af.AsyncClient, source: pathlib.Path, journal: pathlib.Path, parts: int
) -> dict[str, Any]:
    """Writes the journal an earlier run would have left after sending ``parts`` Parts of
    ``source`` (through the public Uploads API), and returns what it holds."""
    upload = await client.uploads.create(source.name, "user_data", len(CONTENT), "text/plain")
    done = []
    for number in range(parts):
        data = CONTENT[number * PART : (number + 1) * PART]
        part = await client.uploads.add_part(upload.id, data)
        done.append({"number": number, "id": part.id})
    record = {
        "upload_id": upload.id,
        "created_at": upload.created_at,
        "expires_at": upload.expires_at,
        "size": len(CONTENT),
        "mtime_ns": os.stat(source).st_mtime_ns,
        "part_size": PART,
        "parts": done,
    }
    write(journal, json.dumps(record).encode())
    return record


def write(path: pathlib.Path, data: bytes, *, keep_mtime: bool = False) -> None:
    """Writes ``path`` in place, with its modification time unchanged if asked."""
    before = os.stat(path) if keep_mtime else None
    path.write_bytes(data)
    if before is not None:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def starting_over(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "starting over" in r.getMessage()]


async def test_a_source_rewritten_in_place_starts_over(
    local_server: ServerThread,
    client: af.AsyncClient,
    source: pathlib.Path,
    tmp_path: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = tmp_path / "big.json"
    old = await journal_of(client, source, journal, PARTS)
    # The same size, the same mtime, other bytes: only the server's MD5 check tells.
    changed = CONTENT[::-1]
    write(source, changed, keep_mtime=True)
    with caplog.at_level(logging.INFO, "aikit_files"):
        made = await client.files.create(source, "user_data", resume=journal, **LARGE)
    assert await server_files(local_server) == {"big.bin": changed}
    assert made.bytes == len(changed)
    (line,) = starting_over(caplog)
    assert old["upload_id"] in line
    assert pending_uploads(local_server) == [], "the stale Upload was cancelled"
    assert not journal.exists()


@pytest.mark.parametrize("gone", ["cancelled", "unknown to the server"])
async def test_all_parts_sent_then_the_upload_gone_starts_over(
    local_server: ServerThread,
    client: af.AsyncClient,
    source: pathlib.Path,
    tmp_path: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
    gone: str,
) -> None:
    journal = tmp_path / "big.json"
    old = await journal_of(client, source, journal, PARTS)
    if gone == "cancelled":
        await client.uploads.cancel(old["upload_id"])
    else:  # a server restarted without its data directory knows no such Upload: a 404
        record = json.loads(journal.read_bytes())
        record["upload_id"] = "upload_" + "f" * 32
        journal.write_text(json.dumps(record))
        await client.uploads.cancel(old["upload_id"])
    with caplog.at_level(logging.INFO, "aikit_files"):
        await client.files.create(source, "user_data", resume=journal, **LARGE)
    assert await server_files(local_server) == {"big.bin": CONTENT}
    assert len(starting_over(caplog)) == 1
    assert pending_uploads(local_server) == []
    assert not journal.exists()


@pytest.mark.parametrize(
    "corrupt",
    [
        "upload id with /",
        "part outside the plan",
        "part repeated",
        "unknown part id",
        "expiry a year away",
        "not json",
    ],
)
async def test_a_journal_that_is_wrong_starts_over_with_one_log_line(
    local_server: ServerThread,
    client: af.AsyncClient,
    source: pathlib.Path,
    tmp_path: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
    corrupt: str,
) -> None:
    journal = tmp_path / "big.json"
    old = await journal_of(client, source, journal, 4)
    record = json.loads(journal.read_bytes())
    if corrupt == "upload id with /":
        record["upload_id"] = old["upload_id"] + "/../../files"
    elif corrupt == "part outside the plan":
        record["parts"].append({"number": PARTS, "id": "part_x"})
    elif corrupt == "part repeated":
        record["parts"].append({**record["parts"][0], "id": "part_y"})
    elif corrupt == "unknown part id":
        record["parts"][2]["id"] = UNKNOWN_PART
    elif corrupt == "expiry a year away":
        record["expires_at"] += 365 * 86400
    journal.write_text("{" if corrupt == "not json" else json.dumps(record))
    with caplog.at_level(logging.INFO, "aikit_files"):
        made = await client.files.create(source, "user_data", resume=journal, **LARGE)
    assert made.bytes == len(CONTENT)
    assert await server_files(local_server) == {"big.bin": CONTENT}
    assert len(starting_over(caplog)) == 1, caplog.text
    # The journal's Upload is cancelled, unless the journal no longer names it soundly.
    untrusted = corrupt in ("upload id with /", "not json")
    assert pending_uploads(local_server) == ([old["upload_id"]] if untrusted else [])
    assert not journal.exists()


async def test_a_part_refused_because_the_upload_is_completed_returns_its_file(
    local_server: ServerThread, client: af.AsyncClient, source: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    # Another run completed the Upload after this journal was written (with 4 Parts of 13):
    # the next Part is refused because the Upload is completed, which is no expiry: the file
    # that run made is the answer, and no second one is made.
    journal = tmp_path / "big.json"
    old = await journal_of(client, source, journal, 4)
    ids = [p["id"] for p in old["parts"]]
    for number in range(4, PARTS):
        data = CONTENT[number * PART : (number + 1) * PART]
        ids.append((await client.uploads.add_part(old["upload_id"], data)).id)
    completed = await client.uploads.complete(old["upload_id"], ids)
    assert completed.file is not None
    made = await client.files.create(source, "user_data", resume=journal, **LARGE)
    assert made.id == completed.file.id
    assert await server_files(local_server) == {"big.bin": CONTENT}
    assert not journal.exists()
