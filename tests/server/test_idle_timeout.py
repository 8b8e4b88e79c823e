"""``idle_timeout``: a connection that sends nothing for that long, in a request's head, in its
body or between two requests, is closed, and its partial upload removed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import pathlib
import time
from collections.abc import Iterator

import psutil
import pytest

from aikit_files.server import ServerThread

from .conftest import API_KEY, disk

IDLE = 0.5
HEAD = (
    "POST /v1/files HTTP/1.1\r\nHost: x\r\n"
    f"Authorization: Bearer {API_KEY}\r\n"
    "Content-Type: multipart/form-data; boundary=b\r\n"
    "Content-Length: 100000\r\n\r\n"
).encode()
FORM_START = (
    b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
)
#: What stalled clients send before they stall.
STALLS = {
    "nothing": b"",
    "half a request line": b"POST /v1/fi",
    "a request line": b"GET /v1/files HTTP/1.1\r\n",
    "half the headers": b"GET /v1/files HTTP/1.1\r\nHost: x\r\nAuthoriza",
    "the head of a form": HEAD,
    "part of a file": HEAD + FORM_START + b"x" * 5000,
    "part of a JSON body": (
        "POST /v1/uploads HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {API_KEY}\r\nContent-Length: 100\r\n\r\n"
        '{"purpose": "assis'
    ).encode(),
}


@pytest.fixture
def server(data_dir: pathlib.Path) -> Iterator[ServerThread]:
    with ServerThread(data_dir, api_key=API_KEY, idle_timeout=IDLE) as running:
        yield running


def held(server: ServerThread, data_dir: pathlib.Path) -> int:
    """The descriptors this process holds for the test's own server: both ends of each
    connection to it, and the files open under its data directory.

    NOTE: not a count of every descriptor: an earlier test's leftovers (a client still closing
    in its thread) may open or close theirs meanwhile, and must not count for or against this one.
    """
    process = psutil.Process()
    sockets = sum(
        1
        for c in process.net_connections("tcp")
        if c.status != psutil.CONN_LISTEN
        and server.port in (c.laddr.port, c.raddr.port if c.raddr else None)
    )
    files = sum(1 for f in process.open_files() if f.path.startswith(str(data_dir)))
    return sockets + files


async def closed_by_the_server(reader: asyncio.StreamReader) -> bytes:
    """What the server sent before it closed the connection (within a few idle timeouts)."""
    async with asyncio.timeout(IDLE * 8):
        return await reader.read()


@pytest.mark.anyio
@pytest.mark.parametrize("sent", list(STALLS.values()), ids=list(STALLS))
async def test_a_stalled_client_is_cut_off(
    sent: bytes, server: ServerThread, data_dir: pathlib.Path
) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(sent)
        await writer.drain()
        started = time.monotonic()
        answer = await closed_by_the_server(reader)
        assert time.monotonic() - started >= IDLE * 0.9
    finally:
        writer.close()
        await writer.wait_closed()
    if b"\r\n\r\n" in sent:
        # The request reached a handler, which answers before it closes the connection.
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ")
        assert "timed out" in json.loads(body)["error"]["message"]
    assert disk(data_dir) == {"files", "uploads", "tmp"}


@pytest.mark.anyio
async def test_an_idle_keep_alive_connection_is_closed(server: ServerThread) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        for _ in range(2):  # two requests on one connection, each within the idle timeout
            writer.write(
                f"GET /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            await asyncio.sleep(IDLE / 2)
        assert await closed_by_the_server(reader) == b""
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.anyio
async def test_stalled_clients_leave_no_descriptor_open(
    server: ServerThread, data_dir: pathlib.Path
) -> None:
    assert held(server, data_dir) == 0
    connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        for sent in list(STALLS.values()) * 10:
            reader, writer = await asyncio.open_connection(server.host, server.port)
            writer.write(sent)
            connections.append((reader, writer))
        # 70 connections, 20 of them with a file being received: both ends of each and the
        # files, held until the server cuts the connections off.
        peak = 0
        for _ in range(50):
            peak = max(peak, held(server, data_dir))
            if peak >= 2 * len(connections) + 10:
                break
            await asyncio.sleep(0.01)
        # NOTE: on a loaded machine the server may cut off the first connections before it
        # accepts the last: more than the clients' ends alone shows that the server's count.
        assert peak > len(connections) + 10
        for reader, _ in connections:
            await closed_by_the_server(reader)
    finally:
        # Closed whatever happened: sockets left to the garbage collector would fail the next
        # test on this worker with "unclosed transport".
        for _, writer in connections:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    for _ in range(100):
        if held(server, data_dir) == 0 and disk(data_dir) == {"files", "uploads", "tmp"}:
            break
        await asyncio.sleep(0.05)
    assert held(server, data_dir) == 0
    assert disk(data_dir) == {"files", "uploads", "tmp"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "request_line", ["GET /v1/files", "POST /v1/uploads/upload_x/cancel", "DELETE /v1/files/x"]
)
async def test_a_short_body_nobody_reads_holds_no_connection_past_the_idle_timeout(
    request_line: str, server: ServerThread
) -> None:
    # The route answers without reading the body, of which 10 bytes of 100 come.
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(
            f"{request_line} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
            "Content-Length: 100\r\n\r\n0123456789".encode()
        )
        await writer.drain()
        started = time.monotonic()
        answer = await closed_by_the_server(reader)
        assert time.monotonic() - started < IDLE * 4
    finally:
        writer.close()
        await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 ")
