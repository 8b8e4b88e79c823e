"""A large file through the Uploads API, against the local server (behind a ``FaultProxy``
where faults matter): byte-identical, MD5 checked by the server, Parts in flight together, a
failed Part retried alone, the Upload cancelled when the call fails or is cancelled, Azure's
files/import from a URL on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import psutil
import pytest

import aikit_files as af
from aikit_files.server import ServerThread
from aikit_files.testing import Delay, FaultProxy, Reset, Respond, Rule

from .conftest import eventually, server_files

pytestmark = pytest.mark.anyio

KiB = 1024
#: Small figures, so that a "large" upload stays quick: 10 Parts of 64 KiB and one shorter.
PART = 64 * KiB
LARGE: dict[str, Any] = {"upload_threshold": 256 * KiB, "part_size": PART}
CONTENT = os.urandom(10 * PART + 777)


@pytest.fixture
def source(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "train.jsonl"
    path.write_bytes(CONTENT)
    return path


@pytest.fixture
async def client(proxy: FaultProxy, local_server: ServerThread) -> AsyncIterator[af.AsyncClient]:
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as c:
        yield c


def parts_sent(proxy: FaultProxy) -> list[int]:
    """The body sizes of the Part requests that reached the server, in order."""
    return [
        e.request_bytes
        for e in proxy.exchanges
        if e.method == "POST" and e.path.endswith("/parts") and e.forwarded
    ]


def paths(proxy: FaultProxy) -> list[str]:
    return [f"{e.method} {e.path.split('?')[0].rsplit('/', 1)[-1]}" for e in proxy.exchanges]


@pytest.mark.parametrize("kind", ["path", "blob", "file object"])
async def test_a_large_file_goes_through_the_uploads_api(
    client: af.AsyncClient,
    proxy: FaultProxy,
    local_server: ServerThread,
    source: pathlib.Path,
    kind: str,
) -> None:
    file: Any = source if kind == "path" else CONTENT if kind == "blob" else source.open("rb")
    progress: list[tuple[int, int | None]] = []
    results: list[af.Result] = []
    made = await client.files.create(
        file,
        "fine-tune",
        filename="train.jsonl",
        on_progress=lambda sent, total: progress.append((sent, total)),
        on_terminate=results.append,
        **LARGE,
    )
    if kind == "file object":
        file.close()
    assert (made.filename, made.bytes, made.purpose) == ("train.jsonl", len(CONTENT), "fine-tune")
    assert await server_files(local_server) == {"train.jsonl": CONTENT}
    # One Upload, eleven Parts, one complete (with the MD5, which the server checked).
    assert paths(proxy).count("POST uploads") == 1
    assert len(parts_sent(proxy)) == 11
    assert paths(proxy)[-1] == "POST complete"
    assert progress[-1] == (len(CONTENT), len(CONTENT))
    assert all(b[0] >= 0 for b in progress)
    await asyncio.sleep(0)
    # The result of a call made of many requests carries the headers of its complete.
    (result,) = results
    assert isinstance(result, af.FileResult)
    assert result.file == made
    assert result.request_id is not None


async def test_the_md5_sent_is_the_files(
    local_server: ServerThread, proxy: FaultProxy, client: af.AsyncClient, source: pathlib.Path
) -> None:
    # The server refuses a complete whose md5 differs from its Parts': a wrong one would fail.
    await client.files.create(source, "user_data", **LARGE)
    assert await server_files(local_server) == {"train.jsonl": CONTENT}
    assert hashlib.md5(CONTENT).hexdigest()  # the same digest the client computed


async def test_parts_are_in_flight_together(
    proxy: FaultProxy, client: af.AsyncClient, source: pathlib.Path
) -> None:
    proxy.add_rule(Rule(Delay(0.3), method="POST", path="/v1/uploads/"))
    port = int(proxy.url.rsplit(":", 1)[1])
    most = 0

    async def watch() -> None:
        nonlocal most
        while True:
            connections = [
                c
                for c in psutil.Process().net_connections("tcp")
                if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
            ]
            most = max(most, len(connections))
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    try:
        await client.files.create(source, "user_data", max_concurrency=4, **LARGE)
    finally:
        watcher.cancel()
    assert most >= 3, most


async def test_a_failed_part_is_retried_alone(
    local_server: ServerThread, proxy: FaultProxy, client: af.AsyncClient, source: pathlib.Path
) -> None:
    # The third Part's first attempt is reset, the fifth's answered 503: each is sent again;
    # the others once.
    proxy.add_rule(Rule(Reset(after_bytes=100), method="POST", path="/v1/uploads/", ordinal=3))
    proxy.add_rule(
        Rule(Respond(503, retry_after_ms=10), method="POST", path="/v1/uploads/", ordinal=5)
    )
    await client.files.create(source, "user_data", max_concurrency=1, **LARGE)
    assert await server_files(local_server) == {"train.jsonl": CONTENT}
    part_requests = [e for e in proxy.exchanges if e.path.endswith("/parts")]
    assert len(part_requests) == 11 + 2
    assert len(parts_sent(proxy)) == 11


async def test_a_failed_upload_is_cancelled_on_the_server(
    local_server: ServerThread, proxy: FaultProxy, client: af.AsyncClient, source: pathlib.Path
) -> None:
    proxy.add_rule(Rule(Respond(400), method="POST", path="/v1/uploads/", ordinal=4))
    with pytest.raises(af.BadRequestError):
        await client.files.create(source, "user_data", max_concurrency=2, **LARGE)
    assert paths(proxy)[-1] == "POST cancel"
    assert proxy.exchanges[-1].upstream_status == 200
    assert await server_files(local_server) == {}


async def test_a_cancelled_call_cancels_the_upload(
    local_server: ServerThread, proxy: FaultProxy, client: af.AsyncClient, source: pathlib.Path
) -> None:
    proxy.add_rule(Rule(Delay(0.2), method="POST", path="/v1/uploads/"))
    results: list[af.Result] = []
    task = client.files.create(source, "user_data", on_terminate=results.append, **LARGE)
    await eventually(lambda: len(parts_sent(proxy)) >= 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)
    assert "POST cancel" in paths(proxy)
    cancel = next(e for e in proxy.exchanges if e.path.split("?")[0].endswith("/cancel"))
    assert cancel.upstream_status == 200
    assert [r.cancelled for r in results] == [True]
    assert await server_files(local_server) == {}


async def test_closing_the_client_with_cancel_cancels_the_upload(
    local_server: ServerThread, proxy: FaultProxy, source: pathlib.Path
) -> None:
    proxy.add_rule(Rule(Delay(0.2), method="POST", path="/v1/uploads/"))
    client = af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1")
    task = client.files.create(source, "user_data", **LARGE)
    await eventually(lambda: len(parts_sent(proxy)) >= 1)
    await client.aclose(cancel=True)
    assert task.cancelled()
    assert "POST cancel" in paths(proxy)
    assert await server_files(local_server) == {}


async def test_an_async_iterable_keeps_the_simple_path(
    proxy: FaultProxy, client: af.AsyncClient
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield CONTENT

    await client.files.create(chunks(), "user_data", filename="s.bin", **LARGE)
    assert paths(proxy) == ["POST files"]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"part_size": 0}, af.InvalidArgumentError),
        ({"part_size": 64 * 1024 * 1024 + 1}, af.InvalidArgumentError),
        ({"part_size": "1"}, af.InvalidArgumentTypeError),
        ({"max_concurrency": 0}, af.InvalidArgumentError),
        ({"upload_threshold": -1}, af.InvalidArgumentError),
        ({"upload_threshold": 1.5}, af.InvalidArgumentTypeError),
        ({"resume": 3}, af.InvalidArgumentTypeError),
        ({"resume": ""}, af.InvalidArgumentError),
        # 10001 bytes in Parts of 1 byte: more Parts than an upload may have.
        ({"upload_threshold": 0, "part_size": 1}, af.InvalidArgumentError),
    ],
)
async def test_bad_large_upload_settings_raise_at_once(
    proxy: FaultProxy,
    client: af.AsyncClient,
    source: pathlib.Path,
    options: dict[str, object],
    error: type[Exception],
) -> None:
    if options == {"upload_threshold": 0, "part_size": 1}:
        big = source.with_name("big.bin")
        big.write_bytes(b"x" * 10_001)
        with pytest.raises(error, match="Parts"):
            client.files.create(big, "user_data", **options)  # type: ignore[arg-type]
    else:
        with pytest.raises(error):
            client.files.create(source, "user_data", **options)  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    assert proxy.exchanges == []


async def test_resume_needs_a_path(client: af.AsyncClient, proxy: FaultProxy) -> None:
    with pytest.raises(af.InvalidArgumentError, match="path"):
        client.files.create(CONTENT, "user_data", resume=True, **LARGE)
    assert proxy.exchanges == []


async def test_azure_uploads_take_no_expires_after(
    tmp_path: pathlib.Path, source: pathlib.Path
) -> None:
    async with af.AsyncClient("k", base_url="http://127.0.0.1:9", provider="azure") as client:
        with pytest.raises(af.InvalidArgumentError, match="expires_after"):
            client.files.create(
                source, "user_data", expires_after=af.ExpiresAfter(seconds=3600), **LARGE
            )
        with pytest.raises(af.InvalidArgumentError, match="expires_after"):
            client.uploads.create(
                "a.txt", "user_data", 1, "text/plain", expires_after=af.ExpiresAfter(seconds=3600)
            )
