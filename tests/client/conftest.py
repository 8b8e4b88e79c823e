"""Fixtures of the client tests: clients of the local server, directly and through the fault
proxy, and the scriptable fault server for what a real server will not do on demand."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from faults import FaultServer, client_options

import aikit_files as af
from aikit_files.server import ServerThread
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
