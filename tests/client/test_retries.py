"""Retries: which failures are retried, how long we wait, and when a body may be sent again."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import pathlib
import threading
from collections.abc import AsyncIterator

import pytest
from faults import API_KEY, FILE, Fault, FaultServer, client_options, drop, respond, slow, stream

import aikit_files as af

pytestmark = pytest.mark.anyio

QUICK = {"retry-after-ms": "10"}


def fail(status: int = 500, **headers: str) -> Fault:
    return respond(status, {"error": {"message": f"status {status}"}}, headers={**QUICK, **headers})


def file_part(body: bytes) -> bytes:
    """The bytes of the file part of a recorded multipart body."""
    _, _, rest = body.partition(b'name="file"')
    _, _, content = rest.partition(b"\r\n\r\n")
    return content[: content.rindex(b"\r\n--")]


async def test_5xx_then_success_resends_the_whole_path(
    fault_server: FaultServer, fault_client: af.AsyncClient, tmp_path: pathlib.Path
) -> None:
    data = os.urandom(300_000)
    path = tmp_path / "a.bin"
    path.write_bytes(data)
    fault_server.script(fail(500), fail(503))
    created = await fault_client.files.create(path, "assistants")
    assert created == af.OpenAIFile(**FILE)  # type: ignore[arg-type]
    assert len(fault_server.requests) == 3
    for request in fault_server.requests:
        assert file_part(request.body) == data
        assert request.headers["Content-Length"] == str(request.size)
        assert "Transfer-Encoding" not in request.headers


async def test_429_with_retry_after_seconds(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    fault_server.script(
        respond(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0.05"})
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    await fault_client.files.retrieve("file-abc123")
    assert loop.time() - started >= 0.05
    assert len(fault_server.requests) == 2


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 504])
async def test_retried_statuses(
    fault_server: FaultServer, fault_client: af.AsyncClient, status: int
) -> None:
    fault_server.script(fail(status))
    await fault_client.files.delete("file-abc123")
    assert len(fault_server.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
async def test_final_statuses(
    fault_server: FaultServer, fault_client: af.AsyncClient, status: int
) -> None:
    fault_server.script(fail(status))
    with pytest.raises(af.APIStatusError):
        await fault_client.files.retrieve("file-abc123")
    assert len(fault_server.requests) == 1


async def test_x_should_retry(fault_server: FaultServer, fault_client: af.AsyncClient) -> None:
    fault_server.script(fail(500, **{"x-should-retry": "false"}))
    with pytest.raises(af.InternalServerError):
        await fault_client.files.retrieve("file-abc123")
    assert len(fault_server.requests) == 1

    fault_server.script(fail(400, **{"x-should-retry": "true"}))
    await fault_client.files.retrieve("file-abc123")
    assert len(fault_server.requests) == 3


async def test_a_long_retry_after_is_not_waited_for(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    fault_server.script(
        respond(429, {"error": {"message": "later"}}, headers={"Retry-After": "3600"})
    )
    with pytest.raises(af.RateLimitError) as caught:
        await fault_client.files.retrieve("file-abc123")
    assert caught.value.headers["Retry-After"] == "3600"
    assert len(fault_server.requests) == 1


async def test_retries_give_up_with_the_last_error(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    fault_server.script(fail(500), fail(502), fail(503))
    with pytest.raises(af.InternalServerError) as caught:
        await fault_client.files.retrieve("file-abc123")
    assert caught.value.status_code == 503
    assert len(fault_server.requests) == 3


async def test_max_retries_per_call_and_per_client(fault_server: FaultServer) -> None:
    async with af.AsyncClient(**client_options(fault_server, max_retries=1)) as client:
        fault_server.script(fail(), fail(), fail())
        with pytest.raises(af.InternalServerError):
            await client.files.retrieve("file-abc123")
        assert len(fault_server.requests) == 2

        fault_server.requests.clear()
        with pytest.raises(af.InternalServerError):
            await client.files.retrieve("file-abc123", max_retries=0)
        assert len(fault_server.requests) == 1

        fault_server.requests.clear()
        fault_server.script(fail())
        await client.files.retrieve("file-abc123", af.Parameters(max_retries=3))
        assert len(fault_server.requests) == 2


async def test_dropped_connection_is_retried(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    fault_server.script(drop())
    assert (await fault_client.files.create(b"hello", "assistants")).id == FILE["id"]
    # The whole upload was sent before the drop: the client looked for the file (this server
    # lists none) before sending it again.
    assert [(r.method, r.path) for r in fault_server.requests] == [
        ("POST", "/v1/files"),
        ("GET", "/v1/files"),
        ("POST", "/v1/files"),
    ]
    assert [r.body.count(b"hello") for r in fault_server.requests] == [1, 0, 1]


async def test_async_iterable_is_never_resent(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"one"
        yield b"two"

    fault_server.script(fail(500))
    with pytest.raises(af.InternalServerError):
        await fault_client.files.create(chunks(), "assistants")
    assert len(fault_server.requests) == 1
    assert fault_server.requests[0].headers.get("Transfer-Encoding") == "chunked"
    assert file_part(fault_server.requests[0].body) == b"onetwo"


async def test_unsent_async_iterable_can_still_be_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on this port: no attempt gets to read the iterable, so each may retry.
    async def chunks() -> AsyncIterator[bytes]:
        yield b"data"

    async with af.AsyncClient(API_KEY, base_url="http://127.0.0.1:9/v1", max_retries=1) as client:
        with (
            caplog.at_level(logging.INFO, logger="aikit_files"),
            pytest.raises(af.APIConnectionError),
        ):
            await client.files.create(chunks(), "assistants")
    assert caplog.text.count("retrying POST") == 1


async def test_non_seekable_file_is_never_resent(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as writer:
            writer.write(b"piped")

    feeder = threading.Thread(target=feed)
    feeder.start()
    fault_server.script(fail(502))
    with os.fdopen(read_end, "rb") as reader, pytest.raises(af.InternalServerError):
        await fault_client.files.create(reader, "assistants")
    feeder.join()
    assert len(fault_server.requests) == 1


async def test_seekable_file_is_rewound_to_its_start(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    file = io.BytesIO(b"skip|keep this")
    file.seek(5)
    fault_server.script(fail(500))
    await fault_client.files.create(file, "assistants")
    assert [file_part(r.body) for r in fault_server.requests] == [b"keep this", b"keep this"]


async def test_read_timeout_then_success(fault_server: FaultServer) -> None:
    fault_server.script(slow(2.0))
    async with af.AsyncClient(
        **client_options(fault_server, timeout=af.Timeout(read=0.2))
    ) as client:
        assert (await client.files.retrieve("file-abc123")).id == FILE["id"]
    assert len(fault_server.requests) == 2


async def test_cut_download_is_retried_from_the_start(
    fault_server: FaultServer, fault_client: af.AsyncClient, tmp_path: pathlib.Path
) -> None:
    data = os.urandom(3 * 1024 * 1024)
    fault_server.script(stream(data, cut_after=1024 * 1024), stream(data))
    target = tmp_path / "out.bin"
    await fault_client.files.download("file-abc123", target)
    assert target.read_bytes() == data
    assert os.listdir(tmp_path) == [target.name]


async def test_retries_are_logged_without_the_key(
    fault_server: FaultServer, fault_client: af.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    fault_server.script(fail(500))
    with caplog.at_level(logging.INFO, logger="aikit_files"):
        await fault_client.files.retrieve("file-abc123")
    assert "retrying GET" in caplog.text
    assert API_KEY not in caplog.text
