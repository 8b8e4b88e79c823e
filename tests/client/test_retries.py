"""Retries: which failures are retried, how long we wait, and when a body may be sent again.

The faults come from a ``FaultProxy`` in front of the real local server, so that what the
server ends up holding shows what each attempt did.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import pathlib
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

import aikit_files as af
from aikit_files._protocol.multipart import build_form, form_fields, guess_content_type
from aikit_files.server import ServerThread
from aikit_files.testing import Delay, FaultProxy, Reset, Respond, Rule, Truncate

pytestmark = pytest.mark.anyio


def fail(status: int = 500, **options: Any) -> Respond:
    """An error answer that asks for a quick retry."""
    return Respond(status, retry_after_ms=10, **options)


def form_size(filename: str, size: int, purpose: str = "assistants") -> int:
    """The length of the whole form of ``POST /files`` around a file of ``size`` bytes."""
    form = build_form(
        form_fields(purpose, None), filename=filename, content_type=guess_content_type(filename)
    )
    length = form.content_length(size)
    assert length is not None
    return length


def statuses(proxy: FaultProxy) -> list[tuple[str, int | None]]:
    """The method and the status the client got, of each request through the proxy."""
    return [(exchange.method, exchange.status) for exchange in proxy.exchanges]


async def holds(client: af.AsyncClient) -> dict[str, bytes]:
    """Every file the local server holds, by filename, with its content."""
    return {f.filename: await client.files.content(f.id) async for f in client.files.iterate()}


async def test_5xx_then_success_resends_the_whole_path(
    proxy: FaultProxy, proxied: af.AsyncClient, client: af.AsyncClient, tmp_path: pathlib.Path
) -> None:
    data = os.urandom(300_000)
    path = tmp_path / "a.bin"
    path.write_bytes(data)
    proxy.add_rule(Rule(fail(500), method="POST", ordinal=1))
    proxy.add_rule(Rule(fail(503), method="POST", ordinal=2))
    created = await proxied.files.create(path, "assistants")
    assert (created.filename, created.bytes) == ("a.bin", len(data))
    assert statuses(proxy) == [("POST", 500), ("POST", 503), ("POST", 200)]
    # Each attempt carried the whole form, and the last one stored the file whole, once.
    assert [e.request_bytes for e in proxy.exchanges] == [form_size("a.bin", len(data))] * 3
    assert await holds(client) == {"a.bin": data}


async def test_429_with_retry_after_seconds(
    proxy: FaultProxy, proxied: af.AsyncClient, stored: af.OpenAIFile
) -> None:
    proxy.add_rule(Rule(Respond(429, retry_after=0.05), method="GET", ordinal=1))
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await proxied.files.retrieve(stored.id) == stored
    assert loop.time() - started >= 0.05
    assert statuses(proxy) == [("GET", 429), ("GET", 200)]


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 504])
async def test_retried_statuses(
    proxy: FaultProxy,
    proxied: af.AsyncClient,
    client: af.AsyncClient,
    stored: af.OpenAIFile,
    status: int,
) -> None:
    proxy.add_rule(Rule(fail(status), method="DELETE", ordinal=1))
    assert await proxied.files.delete(stored.id) == af.FileDeleted(id=stored.id, deleted=True)
    assert statuses(proxy) == [("DELETE", status), ("DELETE", 200)]
    assert await holds(client) == {}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
async def test_final_statuses(
    proxy: FaultProxy, proxied: af.AsyncClient, stored: af.OpenAIFile, status: int
) -> None:
    proxy.add_rule(Rule(fail(status), method="GET", ordinal=1))
    with pytest.raises(af.APIStatusError) as caught:
        await proxied.files.retrieve(stored.id)
    assert caught.value.status_code == status
    assert statuses(proxy) == [("GET", status)]


async def test_x_should_retry(
    proxy: FaultProxy, proxied: af.AsyncClient, stored: af.OpenAIFile
) -> None:
    proxy.add_rule(Rule(fail(500, headers={"x-should-retry": "false"}), ordinal=1))
    with pytest.raises(af.InternalServerError):
        await proxied.files.retrieve(stored.id)
    assert statuses(proxy) == [("GET", 500)]

    proxy.clear_rules()
    proxy.add_rule(Rule(fail(400, headers={"x-should-retry": "true"}), ordinal=1))
    assert await proxied.files.retrieve(stored.id) == stored
    assert statuses(proxy) == [("GET", 500), ("GET", 400), ("GET", 200)]


async def test_a_long_retry_after_is_not_waited_for(
    proxy: FaultProxy, proxied: af.AsyncClient, stored: af.OpenAIFile
) -> None:
    proxy.add_rule(Rule(Respond(429, retry_after=3600)))
    with pytest.raises(af.RateLimitError) as caught:
        await proxied.files.retrieve(stored.id)
    assert caught.value.headers["Retry-After"] == "3600"
    assert statuses(proxy) == [("GET", 429)]


async def test_retries_give_up_with_the_last_error(
    proxy: FaultProxy, proxied: af.AsyncClient, stored: af.OpenAIFile
) -> None:
    for ordinal, status in enumerate([500, 502, 503], start=1):
        proxy.add_rule(Rule(fail(status), ordinal=ordinal))
    with pytest.raises(af.InternalServerError) as caught:
        await proxied.files.retrieve(stored.id)
    assert caught.value.status_code == 503
    assert statuses(proxy) == [("GET", 500), ("GET", 502), ("GET", 503)]


async def test_max_retries_per_call_and_per_client(
    proxy: FaultProxy, local_server: ServerThread, stored: af.OpenAIFile
) -> None:
    proxy.add_rule(Rule(fail(500)))
    base_url = proxy.url + "/v1"
    async with af.AsyncClient(local_server.api_key, base_url=base_url, max_retries=1) as client:
        with pytest.raises(af.InternalServerError):
            await client.files.retrieve(stored.id)
        assert len(proxy.exchanges) == 2

        with pytest.raises(af.InternalServerError):
            await client.files.retrieve(stored.id, max_retries=0)
        assert len(proxy.exchanges) == 3

        proxy.clear_rules()
        proxy.add_rule(Rule(fail(500), ordinal=1))
        assert await client.files.retrieve(stored.id, af.Parameters(max_retries=3)) == stored
        assert statuses(proxy)[3:] == [("GET", 500), ("GET", 200)]


async def test_dropped_connection_is_retried(
    proxy: FaultProxy, proxied: af.AsyncClient, client: af.AsyncClient
) -> None:
    # The proxy takes the whole upload, then resets the connection: the server never saw it.
    proxy.add_rule(Rule(Reset(after_bytes=1_000_000), method="POST", ordinal=1))
    created = await proxied.files.create(b"hello", "assistants")
    # The whole upload was sent before the reset: the client looked for the file (the server
    # has none) before sending it again.
    assert [(e.method, e.path.split("?")[0], e.status) for e in proxy.exchanges] == [
        ("POST", "/v1/files", None),
        ("GET", "/v1/files", 200),
        ("POST", "/v1/files", 200),
    ]
    whole = form_size("file", 5)
    assert [e.request_bytes for e in proxy.exchanges] == [whole, 0, whole]
    assert await holds(client) == {"file": b"hello"}
    assert created.bytes == 5


async def test_async_iterable_is_never_resent(
    proxy: FaultProxy, proxied: af.AsyncClient, client: af.AsyncClient
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"one"
        yield b"two"

    proxy.add_rule(Rule(fail(500), method="POST", ordinal=1))
    with pytest.raises(af.InternalServerError):
        await proxied.files.create(chunks(), "assistants")
    assert statuses(proxy) == [("POST", 500)]
    assert proxy.exchanges[0].request_bytes == form_size("file", 6)  # it was read whole
    assert await holds(client) == {}


async def test_unsent_async_iterable_can_still_be_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on this port: no attempt gets to read the iterable, so each may retry.
    async def chunks() -> AsyncIterator[bytes]:
        yield b"data"

    async with af.AsyncClient("sk-x", base_url="http://127.0.0.1:9/v1", max_retries=1) as client:
        with (
            caplog.at_level(logging.INFO, logger="aikit_files"),
            pytest.raises(af.APIConnectionError),
        ):
            await client.files.create(chunks(), "assistants")
    assert caplog.text.count("retrying POST") == 1


async def test_non_seekable_file_is_never_resent(
    proxy: FaultProxy, proxied: af.AsyncClient, client: af.AsyncClient
) -> None:
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as writer:
            writer.write(b"piped")

    feeder = threading.Thread(target=feed)
    feeder.start()
    proxy.add_rule(Rule(fail(502), method="POST", ordinal=1))
    with os.fdopen(read_end, "rb") as reader, pytest.raises(af.InternalServerError):
        await proxied.files.create(reader, "assistants")
    feeder.join()
    assert statuses(proxy) == [("POST", 502)]
    assert await holds(client) == {}


async def test_seekable_file_is_rewound_to_its_start(
    proxy: FaultProxy, proxied: af.AsyncClient, client: af.AsyncClient
) -> None:
    file = io.BytesIO(b"skip|keep this")
    file.seek(5)
    proxy.add_rule(Rule(fail(500), method="POST", ordinal=1))
    await proxied.files.create(file, "assistants", filename="kept.txt")
    assert statuses(proxy) == [("POST", 500), ("POST", 200)]
    # Both attempts sent the 9 bytes from where the file stood (test_files checks that a first
    # attempt sends those very bytes); the second stored them.
    whole = form_size("kept.txt", 9)
    assert [e.request_bytes for e in proxy.exchanges] == [whole, whole]
    assert await holds(client) == {"kept.txt": b"keep this"}


async def test_read_timeout_then_success(
    proxy: FaultProxy, local_server: ServerThread, stored: af.OpenAIFile
) -> None:
    proxy.add_rule(Rule(Delay(2.0), method="GET", ordinal=1))
    async with af.AsyncClient(
        local_server.api_key, base_url=proxy.url + "/v1", timeout=af.Timeout(read=0.2)
    ) as client:
        assert await client.files.retrieve(stored.id) == stored
    # The first request was still held back when the client gave up on it.
    assert statuses(proxy) == [("GET", None), ("GET", 200)]


async def test_cut_download_is_retried_from_the_start(
    proxy: FaultProxy, proxied: af.AsyncClient, client: af.AsyncClient, tmp_path: pathlib.Path
) -> None:
    data = os.urandom(3 * 1024 * 1024)
    made = await client.files.create(data, "assistants", filename="big.bin")
    proxy.add_rule(Rule(Truncate(after_bytes=1024 * 1024), method="GET", ordinal=1))
    work = tmp_path / "work"
    work.mkdir()
    target = work / "out.bin"
    await proxied.files.download(made.id, target)
    assert target.read_bytes() == data
    assert os.listdir(work) == [target.name]
    assert statuses(proxy) == [("GET", 200), ("GET", 200)]
    assert [e.fault for e in proxy.exchanges] == [Truncate(after_bytes=1024 * 1024), None]


async def test_retries_are_logged_without_the_key(
    proxy: FaultProxy,
    proxied: af.AsyncClient,
    local_server: ServerThread,
    stored: af.OpenAIFile,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy.add_rule(Rule(fail(500), ordinal=1))
    with caplog.at_level(logging.INFO, logger="aikit_files"):
        await proxied.files.retrieve(stored.id)
    assert "retrying GET" in caplog.text
    assert local_server.api_key
    assert local_server.api_key not in caplog.text
