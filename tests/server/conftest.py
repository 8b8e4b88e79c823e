"""Helpers of the server tests: a fake clock, a server that uses it, the SDK of each flavour, raw
requests (forms, URLs as written, credentials), the check of a refusal, and a look at the disk."""

from __future__ import annotations

import asyncio
import pathlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import openai
import pytest
import yarl

from aikit_files.server import ServerThread

API_KEY = "sk-test-server"
API_VERSION = "2024-10-21"


class FakeClock:
    """A wall clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def data_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: pathlib.Path, clock: FakeClock) -> Iterator[ServerThread]:
    """A server on a fake clock (every file is created in the same second until it moves),
    with small limits on both flavours so that oversize bodies stay small (Azure's Upload limit
    9/8 of OpenAI's, as the real ones; its Parts as large as a file), and a short Azure
    lifecycle; it imports from loopback, where the tests' origins are."""
    with ServerThread(
        data_dir,
        api_key=API_KEY,
        clock=clock,
        file_limit=1024 * 1024,
        batch_file_limit=512 * 1024,
        part_limit=256 * 1024,
        upload_limit=1024 * 1024,
        azure_upload_limit=1152 * 1024,
        processing_delay=10.0,
        allow_private_import=True,
    ) as running:
        yield running


@pytest.fixture
def client(server: ServerThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.openai_base_url, api_key=API_KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def azure(server: ServerThread) -> Iterator[openai.AzureOpenAI]:
    with openai.AzureOpenAI(
        azure_endpoint=server.azure_endpoint,
        api_key=API_KEY,
        api_version=API_VERSION,
        max_retries=0,
    ) as sdk:
        yield sdk


@pytest.fixture(params=["openai", "azure"])
def flavour(request: pytest.FixtureRequest) -> str:
    """Each flavour's name: ``openai`` (routes under ``/v1``) and ``azure`` (``/openai``)."""
    return str(request.param)


@pytest.fixture(params=["openai", "azure"])
def sdk(
    request: pytest.FixtureRequest, client: openai.OpenAI, azure: openai.AzureOpenAI
) -> openai.OpenAI:
    """The SDK client of each flavour (``AzureOpenAI`` is an ``OpenAI``)."""
    return client if request.param == "openai" else azure


def disk(data_dir: pathlib.Path) -> set[str]:
    """Every path under the data directory, relative to it."""
    return {str(path.relative_to(data_dir)) for path in data_dir.rglob("*")}


def eventually(check: Callable[[], bool], what: str) -> None:
    """Waits (a bounded number of short sleeps) until ``check()`` holds."""
    for _ in range(500):
        if check():
            return
        time.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


BOUNDARY = "test-boundary-7f3a"


def form(*parts: tuple[str, str | None, bytes]) -> bytes:
    """A multipart body of ``(name, filename or None, value)`` parts."""
    body = b""
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += value + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def url(server: ServerThread, flavour: str, path: str) -> yarl.URL:
    """The route's URL, kept as written (no normalisation of ``..`` or ``%2F``)."""
    prefix = "/v1" if flavour == "openai" else "/openai"
    return yarl.URL(server.url + prefix + path, encoded=True)


def auth(flavour: str, key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if flavour == "openai" else {"api-key": key}


def check_envelope(flavour: str, status: int, body: Any, param: str | None) -> dict[str, Any]:
    """The error object of an envelope of ``flavour``'s shape."""
    error = body["error"]
    assert isinstance(error["message"], str)
    assert error["message"]
    if flavour == "openai":
        assert set(error) == {"message", "type", "param", "code"}
        assert error["type"] == ("server_error" if status >= 500 else "invalid_request_error")
        assert error["param"] == param
    else:
        assert isinstance(error["code"], str)
        assert error.get("target") == param
    return dict(error)


async def assert_refused(
    session: aiohttp.ClientSession,
    data_dir: pathlib.Path,
    flavour: str,
    status: int,
    param: str | None,
    method: str,
    target: yarl.URL,
    **request: Any,
) -> dict[str, Any]:
    """Sends a request that must get ``status`` and ``flavour``'s envelope naming ``param``,
    and leave the data directory as it was; returns the error object."""
    before = disk(data_dir)
    async with session.request(method, target, **request) as response:
        assert response.status == status
        assert response.content_type == "application/json"
        error = check_envelope(flavour, status, await response.json(), param)
    assert disk(data_dir) == before
    return error


async def raw_answer(server: ServerThread, request: bytes) -> tuple[bytes, bytes]:
    """Sends ``request`` as it is on a fresh connection; returns the answer's head and body."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
    finally:
        writer.close()
        await writer.wait_closed()
    return head, body
