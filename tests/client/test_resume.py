"""Resuming a large upload after the process died: the same ``create`` run again sends only the
Parts not yet sent, then completes; an expired Upload or a changed source starts over."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

import aikit_files as af
from aikit_files.server import ServerThread
from aikit_files.testing import Delay, FaultProxy, Rule

from .conftest import server_files

pytestmark = pytest.mark.anyio

PART = 64 * 1024
LARGE: dict[str, Any] = {"upload_threshold": 256 * 1024, "part_size": PART, "max_concurrency": 1}
CONTENT = os.urandom(12 * PART + 5)

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    import aikit_files as af

    async def main():
        async with af.AsyncClient(sys.argv[2], base_url=sys.argv[1]) as client:
            await client.files.create(
                sys.argv[3], "user_data", resume=sys.argv[4],
                upload_threshold=256 * 1024, part_size=64 * 1024, max_concurrency=1,
            )

    asyncio.run(main())
    """
)


def parts_forwarded(proxy: FaultProxy) -> int:
    return sum(1 for e in proxy.exchanges if e.path.endswith("/parts") and e.upstream_status == 200)


def part_bytes(proxy: FaultProxy) -> int:
    return sum(e.request_bytes for e in proxy.exchanges if e.path.endswith("/parts"))


def journal_parts(path: pathlib.Path) -> int:
    try:
        return len(json.loads(path.read_bytes())["parts"])
    except (OSError, ValueError):
        return 0


def start_upload(
    proxy: FaultProxy, server: ServerThread, source: pathlib.Path, journal: pathlib.Path
) -> subprocess.Popen[bytes]:
    """Runs the resumable upload of ``source`` in a process of its own."""
    arguments = [proxy.url + "/v1", str(server.api_key), str(source), str(journal)]
    return subprocess.Popen([sys.executable, "-c", SCRIPT, *arguments])


def lock_files(folder: pathlib.Path) -> list[pathlib.Path]:
    return list(folder.glob("*.lock"))


def kill_midway(
    proxy: FaultProxy, server: ServerThread, source: pathlib.Path, journal: pathlib.Path
) -> None:
    """Runs the upload in a process of its own, and kills it (SIGKILL) once some of its Parts
    are in the journal."""
    process = start_upload(proxy, server, source, journal)
    try:
        deadline = time.monotonic() + 60
        while journal_parts(journal) < 4:
            assert process.poll() is None, "the upload ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
    assert process.returncode == -signal.SIGKILL


async def test_a_killed_upload_resumes_where_it_stopped(
    local_server: ServerThread, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(CONTENT)
    journal = tmp_path / "journal" / "big.json"
    proxy.add_rule(Rule(Delay(0.1), method="POST", path="/v1/uploads/"))
    kill_midway(proxy, local_server, source, journal)
    first_bytes, done = part_bytes(proxy), journal_parts(journal)
    assert 4 <= done < 13

    before = len(proxy.exchanges)
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        made = await client.files.create(source, "user_data", resume=journal, **LARGE)
    second = proxy.exchanges[before:]
    sent_again = [e for e in second if e.path.endswith("/parts")]
    assert len(sent_again) == 13 - done, "only the missing Parts are sent"
    assert "POST /v1/uploads" not in [f"{e.method} {e.path.split('?')[0]}" for e in second]
    # Fewer bytes the second time than the file holds: the Parts already in were not resent.
    assert sum(e.request_bytes for e in sent_again) < len(CONTENT)
    assert first_bytes > 0
    assert made.bytes == len(CONTENT)
    assert await server_files(local_server) == {"big.bin": CONTENT}
    assert not journal.exists(), "the journal is removed once the file exists"


async def test_an_expired_upload_starts_over(
    local_server: ServerThread, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(CONTENT)
    journal = tmp_path / "big.json"
    proxy.add_rule(Rule(Delay(0.1), method="POST", path="/v1/uploads/"))
    kill_midway(proxy, local_server, source, journal)
    record = json.loads(journal.read_bytes())
    record["expires_at"] = int(time.time()) + 10  # as good as expired
    journal.write_text(json.dumps(record))
    proxy.clear_rules()
    before = len(proxy.exchanges)
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        await client.files.create(source, "user_data", resume=journal, **LARGE)
    second = [
        f"{e.method} {e.path.split('?')[0].rsplit('/', 1)[-1]}" for e in proxy.exchanges[before:]
    ]
    assert second[:2] == ["POST cancel", "POST uploads"]  # the old Upload dropped, a new one
    assert second.count("POST parts") == 13
    assert await server_files(local_server) == {"big.bin": CONTENT}


async def test_a_changed_source_starts_over(
    local_server: ServerThread, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(CONTENT)
    journal = tmp_path / "big.json"
    proxy.add_rule(Rule(Delay(0.1), method="POST", path="/v1/uploads/"))
    kill_midway(proxy, local_server, source, journal)
    changed = CONTENT[::-1] + b"more"
    source.write_bytes(changed)
    proxy.clear_rules()
    before = len(proxy.exchanges)
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        made = await client.files.create(source, "user_data", resume=journal, **LARGE)
    second = [e for e in proxy.exchanges[before:] if e.path.endswith("/parts")]
    assert len(second) == 13
    assert made.bytes == len(changed)
    assert await server_files(local_server) == {"big.bin": changed}


async def test_resume_true_keeps_its_journal_in_the_cache_folder(
    local_server: ServerThread, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    source = tmp_path / "big.bin"
    source.write_bytes(CONTENT)
    seen: list[list[str]] = []

    def look(sent: int, total: int | None) -> None:
        folder = tmp_path / "cache" / "aikit_files" / "uploads"
        seen.append(sorted(p.name for p in folder.glob("*")) if folder.exists() else [])

    async with af.AsyncClient(local_server.api_key, base_url=local_server.openai_base_url) as c:
        await c.files.create(source, "user_data", resume=True, on_progress=look, **LARGE)
    assert any(names and names[0].endswith(".json") for names in seen)
    assert not list((tmp_path / "cache" / "aikit_files" / "uploads").glob("*.json"))
    await asyncio.sleep(0)


async def test_a_journal_whose_upload_is_gone_starts_over(
    local_server: ServerThread, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(CONTENT)
    journal = tmp_path / "big.json"
    proxy.add_rule(Rule(Delay(0.1), method="POST", path="/v1/uploads/"))
    kill_midway(proxy, local_server, source, journal)
    upload_id = json.loads(journal.read_bytes())["upload_id"]
    async with af.AsyncClient(local_server.api_key, base_url=local_server.openai_base_url) as c:
        await c.uploads.cancel(upload_id)  # someone else dropped it
        made = await c.files.create(source, "user_data", resume=journal, **LARGE)
    assert made.bytes == len(CONTENT)
    assert await server_files(local_server) == {"big.bin": CONTENT}
    assert not journal.exists()


async def test_two_processes_never_resume_one_journal_at_once(
    local_server: ServerThread, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    # A first process is sending the file with a journal; a second run of the same upload
    # fails at once, saying why, rather than sending the file again beside it.
    source = tmp_path / "big.bin"
    source.write_bytes(CONTENT)
    journal = tmp_path / "big.json"
    proxy.add_rule(Rule(Delay(0.1), method="POST", path="/v1/uploads/"))
    first = start_upload(proxy, local_server, source, journal)
    try:
        while journal_parts(journal) < 2:
            assert first.poll() is None, "the first upload ended too soon"
            await asyncio.sleep(0.02)
        async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
            with pytest.raises(af.LocalIOError, match="another process is resuming"):
                await client.files.create(source, "user_data", resume=journal, **LARGE)
    finally:
        returncode = await asyncio.to_thread(first.wait, 60)
    assert returncode == 0
    assert await server_files(local_server) == {"big.bin": CONTENT}
    assert not journal.exists()
    assert lock_files(tmp_path) == [], "the lock file goes with the run that held it"
