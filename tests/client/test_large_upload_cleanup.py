"""A large upload that fails or is cancelled leaves nothing behind on the server: no pending
Upload (read from the server's data directory, since the API lists none) and no file, whatever
request was in flight: ``POST /uploads``, a Part, or ``complete``."""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
from collections.abc import Callable
from typing import Any

import pytest

import aikit_files as af
from aikit_files.server import ServerThread
from aikit_files.testing import FaultProxy, LoseResponse, Respond, Rule, Stall

from .conftest import eventually, pending_uploads, server_files

pytestmark = pytest.mark.anyio

PART = 64 * 1024
#: 5 Parts, one at a time: the complete is the 7th POST under /v1/uploads (create, 5 Parts).
LARGE: dict[str, Any] = {"upload_threshold": 128 * 1024, "part_size": PART, "max_concurrency": 1}
CONTENT = os.urandom(4 * PART + 99)
COMPLETE = 7


@pytest.fixture
def source(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "big.bin"
    path.write_bytes(CONTENT)
    return path


def answered(proxy: FaultProxy, ordinal: int) -> Callable[[], bool]:
    """Whether the server has answered the proxy's request number ``ordinal`` (under
    ``/v1/uploads``, counted by the rule's own ordinal: here all requests are such)."""
    return lambda: any(e.ordinal == ordinal and e.upstream_status == 200 for e in proxy.exchanges)


async def cancel_once_answered(
    proxy: FaultProxy, task: asyncio.Task[af.OpenAIFile], ordinal: int
) -> None:
    """Cancels ``task`` once the server has carried out its request ``ordinal`` whose answer the
    proxy holds back: the server has done the work, the client has not heard of it."""
    await eventually(answered(proxy, ordinal))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancelled_while_complete_is_in_flight_leaves_no_file(
    local_server: ServerThread, proxy: FaultProxy, proxied: af.AsyncClient, source: pathlib.Path
) -> None:
    # The server completes the Upload (the file exists) while the client still waits for the
    # answer's body: cancelling then must not leave that file.
    hold = Stall(where="response", after_bytes=0, seconds=0.5)
    proxy.add_rule(Rule(hold, method="POST", path="/v1/uploads", ordinal=COMPLETE))
    results: list[af.Result] = []
    task = proxied.files.create(source, "user_data", on_terminate=results.append, **LARGE)
    await cancel_once_answered(proxy, task, COMPLETE)
    assert await server_files(local_server) == {}
    assert pending_uploads(local_server) == []
    await asyncio.sleep(0.05)
    assert [r.cancelled for r in results] == [True]
    assert "complete" in proxy.exchanges[COMPLETE - 1].path


async def test_cancelled_while_the_upload_is_created_leaves_no_pending_upload(
    local_server: ServerThread, proxy: FaultProxy, proxied: af.AsyncClient, source: pathlib.Path
) -> None:
    hold = Stall(where="response", after_bytes=0, seconds=0.5)
    proxy.add_rule(Rule(hold, method="POST", path="/v1/uploads", ordinal=1))
    results: list[af.Result] = []
    task = proxied.files.create(source, "user_data", on_terminate=results.append, **LARGE)
    await cancel_once_answered(proxy, task, 1)
    assert len(list((pathlib.Path(local_server.data_dir) / "uploads").iterdir())) == 1
    assert pending_uploads(local_server) == [], "the Upload made was cancelled"
    await asyncio.sleep(0.05)
    assert [r.cancelled for r in results] == [True]


async def test_cancelled_while_a_part_is_sent_leaves_no_pending_upload(
    local_server: ServerThread, proxy: FaultProxy, proxied: af.AsyncClient, source: pathlib.Path
) -> None:
    proxy.add_rule(Rule(Stall(where="response", seconds=5.0), method="POST", path="/v1/uploads",
                        ordinal=3))  # fmt: skip
    task = proxied.files.create(source, "user_data", **LARGE)
    await cancel_once_answered(proxy, task, 3)
    assert pending_uploads(local_server) == []
    assert await server_files(local_server) == {}


async def test_a_refused_part_leaves_no_pending_upload(
    local_server: ServerThread, proxy: FaultProxy, proxied: af.AsyncClient, source: pathlib.Path
) -> None:
    proxy.add_rule(Rule(Respond(400), method="POST", path="/v1/uploads", ordinal=3))
    with pytest.raises(af.BadRequestError):
        await proxied.files.create(source, "user_data", **LARGE)
    assert pending_uploads(local_server) == []


async def test_an_unwritable_journal_folder_fails_before_any_upload(
    proxy: FaultProxy, proxied: af.AsyncClient, source: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    # A file where the journal's folder should be: no Upload is created only to be orphaned
    # when its journal cannot be written (root can write anywhere, but not into a file).
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    with pytest.raises(af.LocalIOError, match="journal"):
        await proxied.files.create(source, "user_data", resume=blocker / "j.json", **LARGE)
    assert proxy.exchanges == []


async def test_a_lost_answer_to_post_uploads_leaves_one_empty_upload_at_most(
    local_server: ServerThread, proxy: FaultProxy, proxied: af.AsyncClient, source: pathlib.Path
) -> None:
    # NOTE: a known limit, bounded here: the Uploads API lists no Uploads and takes no
    # idempotency key, so the Upload that an attempt without an answer made cannot be named,
    # hence not cancelled (not retrying would fail the call and leave it all the same). What
    # it holds is bounded: no Part, no byte, until it expires.
    proxy.add_rule(Rule(LoseResponse(), method="POST", path="/v1/uploads", ordinal=1))
    await proxied.files.create(source, "user_data", **LARGE)
    assert await server_files(local_server) == {"big.bin": CONTENT}
    (orphan,) = pending_uploads(local_server)
    held = pathlib.Path(local_server.data_dir) / "uploads" / orphan
    assert [p.name for p in held.iterdir()] == ["upload.json"]


async def test_a_file_a_cancelled_complete_made_that_cannot_be_found_is_named_in_the_log(
    local_server: ServerThread,
    proxy: FaultProxy,
    proxied: af.AsyncClient,
    source: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The complete's answer never comes, and the lookup for its file fails too: the Upload,
    # completed, cannot be cancelled; the log says what may remain, beyond "could not cancel".
    hold = Stall(where="response", after_bytes=0)
    proxy.add_rule(Rule(hold, method="POST", path="/v1/uploads", ordinal=COMPLETE))
    proxy.add_rule(Rule(Respond(500), method="GET", path="/v1/files"))
    options = {**LARGE, "timeout": af.Timeout(read=2.0), "max_retries": 0}
    with caplog.at_level(logging.WARNING, "aikit_files"):
        task = proxied.files.create(source, "user_data", **options)
        await cancel_once_answered(proxy, task, COMPLETE)
    (line,) = [r.getMessage() for r in caplog.records if "could not cancel" in r.getMessage()]
    assert "if its complete went through, a file 'big.bin' remains" in line
    assert pending_uploads(local_server) == []
