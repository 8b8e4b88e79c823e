"""A file that says it is empty but is not (``/proc``, ``/sys``) is uploaded as what reading it
gives, sent chunked since its size is known only once read, instead of as 0 bytes; a file that
is truly empty is still sent with its exact ``Content-Length``."""

from __future__ import annotations

import os
import pathlib
import sys

import pytest
from faults import FaultServer, client_options
from loops import on_both_loops

import aikit_files as af
from aikit_files._protocol.sources import describe_source

pytestmark = pytest.mark.anyio

PROC_FILE = "/proc/self/status"
needs_proc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not os.path.exists(PROC_FILE),
    reason="needs Linux's /proc",
)


@needs_proc
@on_both_loops
async def test_a_proc_file_is_uploaded_whole(client: af.AsyncClient) -> None:
    assert os.stat(PROC_FILE).st_size == 0  # what makes it a trap
    made = await client.files.create(PROC_FILE, "user_data", filename="status.txt")
    content = await client.files.content(made.id)
    assert content.startswith(b"Name:")
    assert made.bytes == len(content)
    assert b"VmRSS" in content


@needs_proc
async def test_a_proc_file_is_sent_chunked(fault_server: FaultServer) -> None:
    async with af.AsyncClient(**client_options(fault_server)) as client:
        await client.files.create(PROC_FILE, "user_data", filename="status.txt")
    request = fault_server.requests[0]
    assert request.headers.get("Transfer-Encoding") == "chunked"
    assert b"Name:" in request.body


@needs_proc
def test_a_proc_file_is_described_as_of_unknown_size() -> None:
    source = describe_source(PROC_FILE)
    assert source.size is None
    assert source.replayable  # a retry reads it again from its start
    assert source.filename == "status"


async def test_an_empty_file_is_still_sent_with_its_length(
    fault_server: FaultServer, tmp_path: pathlib.Path
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert describe_source(empty).size == 0
    async with af.AsyncClient(**client_options(fault_server)) as client:
        await client.files.create(empty, "user_data")
    headers = fault_server.requests[0].headers
    assert "Transfer-Encoding" not in headers
    assert int(headers["Content-Length"]) == fault_server.requests[0].size


@needs_proc
def test_an_empty_looking_file_that_cannot_be_read_is_refused() -> None:
    # Reading a process's memory at offset 0 fails (nothing is mapped there), even for root.
    with pytest.raises(af.InvalidArgumentError, match="cannot read '/proc/self/mem'"):
        describe_source("/proc/self/mem")
