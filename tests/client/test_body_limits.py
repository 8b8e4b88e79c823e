"""A JSON answer is read up to a limit sized to the largest the API gives (a page of 10,000
files): an endless or oversize body to ``retrieve`` or ``list`` ends in a clear ``APIError``
with the client's memory bounded, while a file's content, which is data, is not limited."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from faults import FILE, Fault, FaultServer, Recorded, client_options

import aikit_files as af
from aikit_files._io.sinks import FILE_JSON_BOUND, JSON_BODY_LIMIT
from aikit_files._limits import LIST_LIMIT_MAX

pytestmark = pytest.mark.anyio

CHUNK = b" " * (256 * 1024)
#: Where the endless body gives up, should the client read on (it must not): four limits.
GIVE_UP = 4 * JSON_BODY_LIMIT


def endless(*, declared: int | None = None, stop: int = GIVE_UP) -> Fault:
    """Answers 200 with JSON whitespace that goes on (until ``stop`` bytes, so that a client
    that reads it all fails the test rather than hanging it)."""

    async def fault(request: web.Request, recorded: Recorded) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if declared is not None:
            response.content_length = declared
        await response.prepare(request)
        sent = 0
        try:
            while sent < stop:
                await response.write(CHUNK)
                sent += len(CHUNK)
            await response.write(json.dumps(FILE).encode())
        except (ConnectionError, RuntimeError):
            pass  # the client hung up, as it should
        return response

    return fault


Operation = Callable[[af.AsyncClient], Awaitable[Any]]
OPERATIONS: list[Any] = [
    pytest.param(lambda c: c.files.retrieve("file-1"), id="retrieve"),
    pytest.param(lambda c: c.files.list(), id="list"),
    pytest.param(lambda c: c.files.delete("file-1"), id="delete"),
]


def test_the_limit_holds_the_largest_page_the_api_gives() -> None:
    assert JSON_BODY_LIMIT >= 1.5 * LIST_LIMIT_MAX * FILE_JSON_BOUND
    # A file object of the longest name, every byte escaped, and a long status_details.
    worst = dict(FILE, filename="\x01" * 255, status_details="x" * 1024, id="f" * 64)
    assert len(json.dumps(worst, indent=6)) <= FILE_JSON_BOUND


async def failure_and_peak(
    call: Awaitable[Any], match: str | None = None
) -> tuple[af.APIError, int]:
    """The ``APIError`` that ``call`` ends in (its message matching ``match``), and the peak of
    the memory traced while it ran."""
    tracemalloc.start()
    try:
        with pytest.raises(af.APIError, match=match) as caught:
            await call
        return caught.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_an_endless_body_is_an_api_error_in_bounded_memory(
    fault_server: FaultServer, operation: Operation
) -> None:
    fault_server.script(endless())
    async with af.AsyncClient(**client_options(fault_server)) as client:
        error, peak = await failure_and_peak(operation(client))
    assert type(error) is af.APIError
    assert "more than 64 MiB" in str(error)
    # The body read so far (a bytearray grows by an eighth at a time), and little else.
    assert peak < JSON_BODY_LIMIT * 1.25 + 8 * 2**20, peak
    # Not retried: the answer came, it is the server's fault.
    assert len(fault_server.requests) == 1


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    fault_server: FaultServer,
) -> None:
    fault_server.script(endless(declared=JSON_BODY_LIMIT + 1, stop=JSON_BODY_LIMIT + 1))
    async with af.AsyncClient(**client_options(fault_server)) as client:
        _, peak = await failure_and_peak(
            client.files.retrieve("file-1"), "declares 67,108,865 bytes"
        )
    assert peak < 8 * 2**20, peak


async def test_a_body_just_under_the_limit_is_read(fault_server: FaultServer) -> None:
    padding = JSON_BODY_LIMIT - len(json.dumps(FILE)) - len(CHUNK)
    fault_server.script(endless(stop=padding))
    async with af.AsyncClient(**client_options(fault_server)) as client:
        file = await client.files.retrieve("file-1")
    assert file.id == FILE["id"]


async def test_content_is_data_and_not_limited(fault_server: FaultServer) -> None:
    size = JSON_BODY_LIMIT + len(CHUNK)
    fault_server.script(endless(stop=size))
    async with af.AsyncClient(**client_options(fault_server)) as client:
        content = await client.files.content("file-1")
    assert len(content) == size + len(json.dumps(FILE))


def gzipped(size: int) -> Fault:
    """Answers 200 with a gzip body of ``size`` bytes of JSON whitespace and then a file, its
    declared (compressed) length a small fraction of that."""
    body = gzip.compress(b" " * size + json.dumps(FILE).encode(), compresslevel=1)

    async def fault(request: web.Request, recorded: Recorded) -> web.StreamResponse:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        return web.Response(body=body, headers=headers)

    return fault


async def test_a_compressed_body_is_counted_as_it_is_inflated(fault_server: FaultServer) -> None:
    # A gzip "bomb": its declared length is a few hundred KiB; inflated it passes the limit.
    fault_server.script(gzipped(JSON_BODY_LIMIT + len(CHUNK)))
    async with af.AsyncClient(**client_options(fault_server)) as client:
        retrieve = client.files.retrieve("file-1")
        _, peak = await failure_and_peak(retrieve, "goes on for more than 64 MiB")
    assert peak < JSON_BODY_LIMIT * 1.25 + 8 * 2**20, peak


async def test_a_compressed_body_under_the_limit_is_read(fault_server: FaultServer) -> None:
    fault_server.script(gzipped(len(CHUNK)))
    async with af.AsyncClient(**client_options(fault_server)) as client:
        file = await client.files.retrieve("file-1")
    assert file.id == FILE["id"]
