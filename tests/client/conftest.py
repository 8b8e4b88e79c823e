"""Fixtures of the client tests: clients of the local server (over plain HTTP or TLS), directly
and through the fault proxy, and the scriptable fault server for what a real server will not do
on demand."""

from __future__ import annotations

import asyncio
import contextlib
import json
import pathlib
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import attrs
import pytest
import trustme
from faults import FaultServer, client_options

import aikit_files as af
from aikit_files.server import ServerThread, create_app
from aikit_files.server._connections import FilesRunner
from aikit_files.server._runner import AppThread
from aikit_files.testing import FaultProxy


@pytest.fixture
async def client(local_server: ServerThread) -> AsyncIterator[af.AsyncClient]:
    """An ``AsyncClient`` of the local Files API server."""
    async with af.AsyncClient(local_server.api_key, base_url=local_server.openai_base_url) as c:
        yield c


@pytest.fixture
async def proxied(local_server: ServerThread, proxy: FaultProxy) -> AsyncIterator[af.AsyncClient]:
    """An ``AsyncClient`` of the local server through the fault proxy, retries at their
    default count."""
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as c:
        yield c


@pytest.fixture
async def stored(client: af.AsyncClient) -> af.OpenAIFile:
    """A file the local server holds."""
    return await client.files.create(b"hello", "assistants", filename="stored.txt")


@pytest.fixture
async def fault_server() -> AsyncIterator[FaultServer]:
    """The fault-injecting server, on loopback, in the test's event loop."""
    async with FaultServer() as server:
        yield server


@pytest.fixture
async def fault_client(fault_server: FaultServer) -> AsyncIterator[af.AsyncClient]:
    """An ``AsyncClient`` of the fault server, with quick retries left at their default count."""
    async with af.AsyncClient(**client_options(fault_server)) as c:
        yield c


@attrs.frozen
class Served:
    """The local Files API server, over plain HTTP or over TLS with a certificate of a local CA."""

    url: str
    api_key: str
    trust: ssl.SSLContext | None
    """A client context that trusts the local CA; None over plain HTTP."""

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def tls(self) -> bool:
        return self.trust is not None

    def session(self) -> aiohttp.ClientSession | None:
        """A session that trusts the CA (made in the running loop); None over plain HTTP, where
        the client makes its own."""
        if self.trust is None:
            return None
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.trust))

    @contextlib.asynccontextmanager
    async def client(self, **options: Any) -> AsyncIterator[af.AsyncClient]:
        """An ``AsyncClient`` of this server."""
        session = self.session()
        try:
            async with af.AsyncClient(
                self.api_key, base_url=self.base_url, session=session, **options
            ) as client:
                yield client
        finally:
            if session is not None:
                await session.close()


@contextlib.contextmanager
def tls_server(data_dir: pathlib.Path) -> Iterator[Served]:
    """The local server over HTTPS, with a certificate for 127.0.0.1 from a new local CA."""
    api_key = "sk-test-tls"
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    trust = ssl.create_default_context()
    ca.configure_trust(trust)
    thread = AppThread(
        lambda: create_app(data_dir, api_key=api_key),
        name="aikit-files-tls-server",
        ssl_context=server_context,
        runner_class=FilesRunner,
    )
    with thread:
        yield Served(thread.url, api_key, trust)


@pytest.fixture(params=["http", "https"])
def served(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[Served]:
    """The local server over plain HTTP, then over TLS."""
    if request.param == "http":
        local: ServerThread = request.getfixturevalue("local_server")
        yield Served(local.url, local.api_key or "", None)
    else:
        with tls_server(tmp_path / "data") as server:
            yield server


async def server_files(server: ServerThread) -> dict[str, bytes]:
    """The files the server holds, by name: their content, read directly (not proxied)."""
    async with af.AsyncClient(server.api_key, base_url=server.openai_base_url) as direct:
        return {f.filename: await direct.files.content(f.id) async for f in direct.files.iterate()}


def pending_uploads(server: ServerThread) -> list[str]:
    """The ids of the Uploads the server holds as ``pending``, read from its data directory
    (the API lists no Uploads)."""
    uploads = pathlib.Path(server.data_dir) / "uploads"
    return sorted(
        meta.parent.name
        for meta in uploads.glob("*/upload.json")
        if json.loads(meta.read_bytes())["status"] == "pending"
    )


async def eventually(check: Callable[[], bool]) -> None:
    """Waits, a bounded while, until ``check()`` holds."""
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("it never happened")
