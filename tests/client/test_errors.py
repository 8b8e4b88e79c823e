"""The error tree: every status class with the server's fields, timeouts, network failures.

Timeouts, cuts and stalls come from a ``FaultProxy`` in front of the local server; the fault
server crafts what a real server will not send (odd error bodies, non-JSON, redirects)."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import pathlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from faults import API_KEY, FaultServer, client_options, respond

import aikit_files as af
from aikit_files.server import ServerThread
from aikit_files.testing import Delay, FaultProxy, Respond, Rule, Stall, Truncate

pytestmark = pytest.mark.anyio

OPENAI_ERROR = {
    "error": {
        "message": "Something is wrong.",
        "type": "invalid_request_error",
        "param": "purpose",
        "code": "bad_thing",
    }
}


def assert_ours(error: BaseException) -> None:
    """An error of ours, whatever failed under it; aiohttp's only as its cause."""
    assert isinstance(error, af.AIKitError)
    assert not isinstance(error, aiohttp.ClientError)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, af.BadRequestError),
        (401, af.AuthenticationError),
        (403, af.PermissionDeniedError),
        (404, af.NotFoundError),
        (409, af.ConflictError),
        (413, af.RequestTooLargeError),
        (415, af.APIStatusError),
        (422, af.UnprocessableEntityError),
        (429, af.RateLimitError),
        (500, af.InternalServerError),
        (503, af.InternalServerError),
    ],
)
async def test_status_errors_carry_the_server_fields(
    fault_server: FaultServer, status: int, cls: type[af.APIStatusError]
) -> None:
    fault_server.script(respond(status, OPENAI_ERROR, headers={"x-request-id": "req_42"}))
    async with af.AsyncClient(**client_options(fault_server, max_retries=0)) as client:
        with pytest.raises(af.APIStatusError) as caught:
            await client.files.create(b"x", "assistants")
    error = caught.value
    assert type(error) is cls
    assert error.status_code == status
    assert error.message == "Something is wrong."
    assert (error.type, error.param, error.code) == (
        "invalid_request_error",
        "purpose",
        "bad_thing",
    )
    assert error.request_id == "req_42"
    assert error.body == OPENAI_ERROR["error"]
    assert error.headers["x-request-id"] == "req_42"


async def test_azure_requests_and_errors(fault_server: FaultServer) -> None:
    fault_server.script(
        respond(404, {"error": {"code": "fileNotFound", "message": "File not found."}})
    )
    async with af.AsyncClient(
        "az-key", base_url=fault_server.url, provider="azure", api_version="2024-06-01"
    ) as client:
        with pytest.raises(af.NotFoundError) as caught:
            await client.files.retrieve("file-1")
    assert (caught.value.code, caught.value.message) == ("fileNotFound", "File not found.")
    request = fault_server.requests[0]
    assert request.path == "/openai/files/file-1"
    assert request.query == {"api-version": "2024-06-01"}
    assert request.headers["api-key"] == "az-key"
    assert "Authorization" not in request.headers


async def test_non_json_success_body(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    fault_server.script(respond(200, body=b"<html>proxy page</html>"))
    with pytest.raises(af.APIError, match="not JSON") as caught:
        await fault_client.files.retrieve("file-1")
    assert not isinstance(caught.value, af.APIConnectionError | af.APIStatusError)


async def test_connection_refused_is_a_connection_error_not_a_timeout() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with af.AsyncClient(API_KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0) as c:
        with pytest.raises(af.APIConnectionError) as caught:
            await c.files.list()
    assert_ours(caught.value)
    assert not isinstance(caught.value, af.APITimeoutError)
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)


def through(proxy: FaultProxy, server: ServerThread, **options: Any) -> af.AsyncClient:
    """A client of the local server through the proxy."""
    return af.AsyncClient(server.api_key, base_url=proxy.url + "/v1", **options)


async def test_stalled_upload_hits_the_write_timeout(
    proxy: FaultProxy, local_server: ServerThread, client: af.AsyncClient
) -> None:
    proxy.add_rule(Rule(Stall(where="request"), method="POST"))
    async with through(proxy, local_server, timeout=af.Timeout(write=0.3), max_retries=0) as c:
        with pytest.raises(af.APITimeoutError, match="write timeout") as caught:
            await c.files.create(bytes(64 * 1024 * 1024), "assistants")
    assert_ours(caught.value)
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert len(proxy.exchanges) == 1
    assert proxy.exchanges[0].request_bytes == 0  # the proxy never read the body
    assert (await client.files.list()).data == []


async def test_slow_answer_hits_the_read_timeout(
    proxy: FaultProxy, local_server: ServerThread, stored: af.OpenAIFile
) -> None:
    proxy.add_rule(Rule(Delay(5.0)))
    async with through(proxy, local_server, timeout=0.2, max_retries=0) as c:
        with pytest.raises(af.APITimeoutError, match="read timeout") as caught:
            await c.files.retrieve(stored.id)
    assert isinstance(caught.value.__cause__, aiohttp.SocketTimeoutError)
    assert len(proxy.exchanges) == 1


async def test_total_deadline_covers_retries(
    proxy: FaultProxy, local_server: ServerThread, stored: af.OpenAIFile
) -> None:
    proxy.add_rule(Rule(Respond(500, retry_after_ms=100)))
    async with through(proxy, local_server, timeout=af.Timeout(total=0.35), max_retries=10) as c:
        with pytest.raises(af.APIError):
            await c.files.retrieve(stored.id)
    # Three or four attempts fit in the deadline; ten would not.
    assert 2 <= len(proxy.exchanges) <= 4


async def test_total_deadline_during_an_attempt(
    proxy: FaultProxy, proxied: af.AsyncClient, stored: af.OpenAIFile
) -> None:
    proxy.add_rule(Rule(Delay(5.0)))
    # NOTE: a deadline that a loaded machine's request meets on its way to the proxy, so that
    # it falls during the attempt (0.2 s ran out before the request arrived).
    with pytest.raises(af.APITimeoutError, match="total time limit"):
        await proxied.files.retrieve(stored.id, timeout=af.Timeout(total=2.0))
    assert len(proxy.exchanges) == 1


@pytest.fixture
def work(tmp_path: pathlib.Path) -> pathlib.Path:
    """A folder of the test's own (the local server keeps its files in ``tmp_path``)."""
    path = tmp_path / "work"
    path.mkdir()
    return path


async def test_cut_download_leaves_nothing(
    proxy: FaultProxy, proxied: af.AsyncClient, client: af.AsyncClient, work: pathlib.Path
) -> None:
    made = await client.files.create(os.urandom(2 * 1024 * 1024), "assistants", filename="b")
    target = work / "out.bin"
    target.write_bytes(b"previous")
    proxy.add_rule(Rule(Truncate(after_bytes=1024 * 1024)))
    with pytest.raises(af.APIConnectionError, match="cut short") as caught:
        await proxied.files.download(made.id, target, max_retries=0)
    assert_ours(caught.value)
    assert os.listdir(work) == [target.name]
    assert target.read_bytes() == b"previous"


async def test_cancelled_download_leaves_nothing(
    proxy: FaultProxy, proxied: af.AsyncClient, client: af.AsyncClient, work: pathlib.Path
) -> None:
    made = await client.files.create(os.urandom(2 * 1024 * 1024), "assistants", filename="b")
    proxy.add_rule(Rule(Stall(after_bytes=1024 * 1024)))
    receiving = asyncio.Event()
    task = proxied.files.download(made.id, work / "out.bin", on_progress=lambda *_: receiving.set())
    await receiving.wait()
    assert len(os.listdir(work)) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert os.listdir(work) == []


class ShrinkingFile:
    """A seekable file that claims more bytes than it yields: a file cut while uploading."""

    def __init__(self) -> None:
        self._position = 0

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = 1000 if whence == io.SEEK_END else offset
        return self._position

    def read(self, size: int = -1) -> bytes:
        data = b"x" * 10 if self._position == 0 else b""
        self._position += len(data)
        return data


class BrokenFile:
    """A file object whose reads fail."""

    def read(self, size: int = -1) -> bytes:
        raise OSError(5, "Input/output error")


async def test_a_file_that_shrinks_fails_and_is_not_retried(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    with pytest.raises(af.LocalIOError, match="changed during the upload") as caught:
        await fault_client.files.create(ShrinkingFile(), "assistants")
    assert not isinstance(caught.value, af.APIError)
    assert len(fault_server.requests) == 1


async def test_a_failing_read_is_reported_and_not_retried(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    with pytest.raises(af.LocalIOError, match="reading the file to upload failed") as caught:
        await fault_client.files.create(BrokenFile(), "assistants")
    assert isinstance(caught.value.__cause__, OSError)
    assert len(fault_server.requests) == 1


async def test_a_failing_async_iterable_is_reported_as_ours_and_not_retried(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    started: list[int] = []

    async def broken() -> AsyncIterator[bytes]:
        started.append(1)
        yield b"first chunk"
        raise ValueError("the producer broke")

    with pytest.raises(af.LocalIOError, match="reading the file to upload failed") as caught:
        await fault_client.files.create(broken(), "assistants")
    assert not isinstance(caught.value, af.APIConnectionError)
    assert isinstance(caught.value.__cause__, ValueError)
    assert started == [1]


@pytest.mark.parametrize("provider", ["openai", "azure"])
async def test_redirects_are_not_followed(fault_server: FaultServer, provider: str) -> None:
    async with FaultServer() as elsewhere:
        fault_server.script(respond(302, {}, headers={"Location": f"{elsewhere.url}/steal"}))
        base_url = fault_server.url if provider == "azure" else fault_server.openai_base_url
        async with af.AsyncClient(API_KEY, base_url=base_url, provider=provider) as client:
            with pytest.raises(af.APIStatusError, match="redirects are not followed") as caught:
                await client.files.retrieve("file-abc123")
        assert elsewhere.requests == []
    assert caught.value.status_code == 302
    assert len(fault_server.requests) == 1


async def test_a_borrowed_session_that_raises_on_status_changes_nothing(
    proxy: FaultProxy, local_server: ServerThread
) -> None:
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        client = through(proxy, local_server, session=session)
        with pytest.raises(af.NotFoundError) as caught:
            await client.files.retrieve("file-abc123")
        await client.aclose()
    assert caught.value.message
    assert [e.status for e in proxy.exchanges] == [404]


async def test_a_key_echoed_by_the_server_is_blotted_out(
    fault_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    echo = {"error": {"message": f"Incorrect API key provided: {API_KEY}", "type": "x"}}
    fault_server.script(respond(500, echo), respond(401, echo))
    with caplog.at_level(logging.INFO, logger="aikit_files"):
        async with af.AsyncClient(**client_options(fault_server)) as client:
            with pytest.raises(af.AuthenticationError) as caught:
                await client.files.list()
    assert "retrying" in caplog.text
    shown = [str(caught.value), repr(caught.value.body), caplog.text]
    assert all(API_KEY not in text for text in shown)
    assert "[redacted]" in str(caught.value)


def unwritable_folder(tmp_path: pathlib.Path) -> pathlib.Path:
    """A folder where no file can be made, even by root (which ignores permission bits)."""
    if os.geteuid() == 0:
        return pathlib.Path("/sys")
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o500)
    return folder


async def test_a_download_that_cannot_be_written_is_a_local_error_not_retried(
    fault_server: FaultServer, fault_client: af.AsyncClient, tmp_path: pathlib.Path
) -> None:
    destination = unwritable_folder(tmp_path) / "copy.bin"
    with pytest.raises(af.LocalIOError, match=r"copy\.bin") as caught:
        await fault_client.files.download("file-1", destination)
    assert not isinstance(caught.value, af.APIError)
    assert isinstance(caught.value.__cause__, OSError)
    assert len(fault_server.requests) == 1


async def test_a_deeply_nested_answer_is_an_api_error(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    fault_server.script(respond(200, body=b"[" * 200_000))
    with pytest.raises(af.APIError, match="nested too deeply"):
        await fault_client.files.retrieve("file-1")
