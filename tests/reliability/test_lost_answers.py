"""Every operation whose answer is lost after the server did its work, through a ``FaultProxy``
in front of the real local server: the call finds what the request made (a file, a deletion, a
completed Upload, an import) and returns it, or sends again only what may be sent twice; one
call never leaves two files (DESIGN section 2, "No duplicate on a lost response")."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from origins import JSONL

import aikit_files as af
from aikit_files._protocol.sources import UploadFile
from aikit_files.server import ServerThread
from aikit_files.server._runner import AppThread
from aikit_files.testing import FaultProxy, LoseResponse, Respond, Rule, Stall

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
CONTENT = hashlib.sha256(b"once").digest() * (MiB // 32)  # 1 MiB
#: A "large" upload kept small: 10 Parts of 64 KiB and one shorter.
PART = 64 * 1024
LARGE: dict[str, Any] = {"upload_threshold": 256 * 1024, "part_size": PART}
LARGE_CONTENT = os.urandom(10 * PART + 777)


async def stored(server: ServerThread) -> dict[str, list[bytes]]:
    """The files the server holds, by name: the content of each file of that name."""
    found: dict[str, list[bytes]] = {}
    async with af.AsyncClient(server.api_key, base_url=server.openai_base_url) as direct:
        async for file in direct.files.iterate():
            found.setdefault(file.filename, []).append(await direct.files.content(file.id))
    return found


def sent(proxy: FaultProxy) -> list[tuple[str, str]]:
    """The requests the proxy saw: method and path, without the query."""
    return [(e.method, e.path.partition("?")[0]) for e in proxy.exchanges]


@pytest.fixture
async def client(proxy: FaultProxy, local_server: ServerThread) -> AsyncIterator[af.AsyncClient]:
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as c:
        yield c


# --- create: small, from a stream, large --------------------------------------------------


async def _stream() -> AsyncIterator[bytes]:
    for start in range(0, len(CONTENT), 256 * 1024):
        yield CONTENT[start : start + 256 * 1024]


@pytest.mark.parametrize("source", ["blob", "path", "file object", "stream"])
async def test_a_create_whose_answer_is_lost_returns_the_file_the_server_made(
    local_server: ServerThread,
    proxy: FaultProxy,
    client: af.AsyncClient,
    tmp_path: pathlib.Path,
    source: str,
) -> None:
    # The server stores the upload; its answer never reaches the client. A blob could be sent
    # again and a stream could not: either way the call finds the file and returns it.
    path = tmp_path / "lost.bin"
    path.write_bytes(CONTENT)
    sources: dict[str, UploadFile] = {
        "blob": CONTENT,
        "path": path,
        "file object": io.BytesIO(CONTENT),
        "stream": _stream(),
    }
    file = sources[source]
    proxy.add_rule(Rule(LoseResponse(), method="POST", path="/v1/files", ordinal=1))
    progress: list[int] = []
    made = await client.files.create(
        file, "user_data", filename="lost.bin", on_progress=lambda s, t: progress.append(s)
    )
    assert await client.files.content(made.id) == CONTENT
    assert made.bytes == len(CONTENT)
    assert sent(proxy)[:2] == [("POST", "/v1/files"), ("GET", "/v1/files")]  # upload, lookup
    assert progress[-1] == len(CONTENT)
    assert await stored(local_server) == {"lost.bin": [CONTENT]}


async def test_a_create_whose_answer_times_out_is_not_sent_again(
    local_server: ServerThread, proxy: FaultProxy
) -> None:
    # The proxy takes the whole upload (it fits in the sockets' buffers, so the client's read
    # timeout starts) but holds it past that timeout: when the client looks for the file, the
    # server has none yet. Then the proxy forwards it, as a proxy that buffers requests, or a
    # slow server, may do: sending it again would have made a second file.
    held = 1.5
    stall = Stall(after_bytes=64 * 1024, seconds=held, where="request")
    proxy.add_rule(Rule(stall, method="POST", path="/v1/files", ordinal=1))
    timeout = af.Timeout(connect=5, read=0.5, write=5)
    async with af.AsyncClient(
        local_server.api_key, base_url=proxy.url + "/v1", timeout=timeout
    ) as client:
        with pytest.raises(af.APITimeoutError, match="may have carried it out"):
            await client.files.create(CONTENT, "user_data", filename="once.bin")

    await asyncio.sleep(held + 0.5)  # the stall is over: the proxy forwarded the body
    assert [m for m, _ in sent(proxy)].count("POST") == 1, "the upload was sent again"
    assert len((await stored(local_server)).get("once.bin", [])) <= 1


async def test_a_failed_lookup_says_the_request_may_have_been_carried_out(
    local_server: ServerThread, proxy: FaultProxy, client: af.AsyncClient
) -> None:
    proxy.add_rule(Rule(LoseResponse(), method="POST", path="/v1/files", ordinal=1))
    proxy.add_rule(Rule(Respond(400), method="GET", path="/v1/files"))
    with pytest.raises(af.APIConnectionError, match="looking for its outcome failed too"):
        await client.files.create(CONTENT, "user_data", filename="unsure.bin")
    assert [m for m, _ in sent(proxy)].count("POST") == 1, "sent again without knowing"
    assert await stored(local_server) == {"unsure.bin": [CONTENT]}


@pytest.fixture
def large_source(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "train.jsonl"
    path.write_bytes(LARGE_CONTENT)
    return path


async def test_a_lost_answer_to_a_large_uploads_complete_makes_no_second_file(
    local_server: ServerThread,
    proxy: FaultProxy,
    client: af.AsyncClient,
    large_source: pathlib.Path,
) -> None:
    # Parts 1 to 11, then the complete: the 12th POST under /v1/uploads/.
    proxy.add_rule(Rule(LoseResponse(), method="POST", path="/v1/uploads/", ordinal=12))
    made = await client.files.create(large_source, "user_data", max_concurrency=1, **LARGE)
    assert made.bytes == len(LARGE_CONTENT)
    assert sent(proxy)[-1] == ("GET", "/v1/files")  # the lookup found it: no second complete
    assert await stored(local_server) == {"train.jsonl": [LARGE_CONTENT]}


async def test_a_part_whose_answer_was_lost_is_sent_again(
    local_server: ServerThread,
    proxy: FaultProxy,
    client: af.AsyncClient,
    large_source: pathlib.Path,
) -> None:
    # The server kept the Part, the client never heard: it sends it again, and completes with
    # the Parts it knows of.
    proxy.add_rule(Rule(LoseResponse(), method="POST", path="/v1/uploads/", ordinal={2, 7}))
    await client.files.create(large_source, "user_data", max_concurrency=2, **LARGE)
    parts = [p for m, p in sent(proxy) if p.endswith("/parts")]
    assert len(parts) == 11 + 2
    assert await stored(local_server) == {"train.jsonl": [LARGE_CONTENT]}


# --- delete ------------------------------------------------------------------------------------


async def test_a_delete_whose_answer_is_lost_finds_the_file_gone(
    local_server: ServerThread, proxy: FaultProxy, client: af.AsyncClient
) -> None:
    made = await client.files.create(b"bye", "user_data", filename="bye.txt")
    proxy.add_rule(Rule(LoseResponse(), method="DELETE", ordinal=1))
    deleted = await client.files.delete(made.id)
    assert deleted == af.FileDeleted(id=made.id, deleted=True)
    # The delete, then the lookup (a 404: gone); never a second DELETE.
    assert sent(proxy)[-2:] == [("DELETE", f"/v1/files/{made.id}"), ("GET", f"/v1/files/{made.id}")]
    assert await stored(local_server) == {}


# --- the low-level Uploads API -----------------------------------------------------------------


async def test_a_lost_answer_to_uploads_create_is_sent_again(
    proxy: FaultProxy, client: af.AsyncClient
) -> None:
    # No route lists Uploads, so there is nothing to look for; a pending Upload holds no bytes
    # and expires on its own, so the request is sent again (as openai-python does): the call
    # gets an Upload it can use.
    proxy.add_rule(Rule(LoseResponse(), method="POST", path="/v1/uploads", ordinal=1))
    upload = await client.uploads.create("u.jsonl", "fine-tune", len(JSONL), "text/jsonl")
    assert sent(proxy) == [("POST", "/v1/uploads")] * 2
    part = await client.uploads.add_part(upload.id, JSONL)
    done = await client.uploads.complete(upload.id, [part.id])
    assert done.status == "completed"


async def test_lost_answers_to_add_part_and_complete_are_sent_again(
    local_server: ServerThread, proxy: FaultProxy, client: af.AsyncClient
) -> None:
    # A Part sent twice is two Parts, of which complete names one; a complete sent again with
    # the same Parts is answered as the first was: the Upload, completed, with its one file.
    upload = await client.uploads.create("c.jsonl", "fine-tune", len(JSONL), "text/jsonl")
    proxy.add_rule(
        Rule(LoseResponse(), method="POST", path=f"/v1/uploads/{upload.id}/parts", ordinal=1)
    )
    proxy.add_rule(
        Rule(LoseResponse(), method="POST", path=f"/v1/uploads/{upload.id}/complete", ordinal=1)
    )
    part = await client.uploads.add_part(upload.id, JSONL)
    done = await client.uploads.complete(upload.id, [part.id], md5=hashlib.md5(JSONL).hexdigest())
    assert done.status == "completed"
    assert done.file is not None
    assert [p.rsplit("/", 1)[-1] for _, p in sent(proxy)[1:]] == ["parts"] * 2 + ["complete"] * 2
    assert await stored(local_server) == {"c.jsonl": [JSONL]}


# --- Azure's files/import ----------------------------------------------------------------------


async def test_an_import_whose_answer_is_lost_is_looked_for_not_sent_again(
    tmp_path: pathlib.Path, origin: AppThread
) -> None:
    rule = Rule(LoseResponse(), method="POST", path="/openai/files/import", ordinal=1)
    with (
        ServerThread(tmp_path / "azure", api_key="az-key", allow_private_import=True) as azure,
        FaultProxy(azure.url, [rule]) as proxy,
    ):
        async with af.AsyncClient("az-key", base_url=proxy.url, provider="azure") as client:
            imported = await client.files.import_url(
                f"{origin.url}/train.jsonl", "lost.jsonl", "fine-tune"
            )
            listed = [f async for f in client.files.iterate() if f.filename == "lost.jsonl"]
        assert [f.id for f in listed] == [imported.id]
        assert sent(proxy)[:2] == [("POST", "/openai/files/import"), ("GET", "/openai/files")]
