"""A file on disk goes by the kernel's sendfile over plain HTTP on asyncio's loop, and by
read-ahead over TLS and on uvloop: either way the server gets the same bytes, of whole files and
of byte ranges, progress is reported to the end, and a file cut short is a ``LocalIOError``."""

from __future__ import annotations

import logging
import os
import pathlib
from types import SimpleNamespace

import aiohttp
import pytest
from loops import LOOPS, READ_AHEAD, expected_way, ways

import aikit_files as af
from aikit_files._config import ClientConfig
from aikit_files._io.sinks import json_sink
from aikit_files._protocol.multipart import build_form
from aikit_files._protocol.requests import Endpoint, FormBody
from aikit_files._protocol.sources import describe_source
from aikit_files._transport import Transport
from aikit_files.server import ServerThread

from .conftest import Served

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024


@pytest.fixture(params=LOOPS)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """Each test runs on asyncio's loop and on uvloop."""
    return request.param


@pytest.fixture(autouse=True)
def debug_log(caplog: pytest.LogCaptureFixture) -> None:
    """The way each file part goes is logged at DEBUG."""
    caplog.set_level(logging.DEBUG, "aikit_files")


@pytest.fixture
def data() -> bytes:
    # Not a multiple of any slice or chunk: the last one is short.
    return os.urandom(9 * MiB + 123)


@pytest.fixture
def on_disk(tmp_path: pathlib.Path, data: bytes) -> pathlib.Path:
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    return path


class Progress(list[tuple[int, int | None]]):
    """The reports of an ``on_progress``."""

    def __call__(self, done: int, total: int | None) -> None:
        self.append((done, total))

    def check(self, size: int) -> None:
        """Reported more than once, in order, to the end, each with the total."""
        done = [d for d, _ in self]
        assert len(self) > 1
        assert done == sorted(done)
        assert self[-1] == (size, size)
        assert {total for _, total in self} == {size}


async def test_a_whole_file_arrives_byte_identical(
    served: Served,
    on_disk: pathlib.Path,
    data: bytes,
    anyio_backend: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    progress = Progress()
    async with served.client() as client:
        created = await client.files.create(on_disk, "assistants", on_progress=progress)
        assert await client.files.content(created.id) == data
    progress.check(len(data))
    assert ways(caplog) == [expected_way(anyio_backend, served.tls)]


async def test_byte_ranges_arrive_byte_identical(
    served: Served,
    on_disk: pathlib.Path,
    data: bytes,
    anyio_backend: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Two Parts of an Upload, each a FormBody over a byte range of the same file: one from the
    # middle, one that runs to the file's end.
    ranges = [(MiB + 3, 3 * MiB + 5), (7 * MiB + 1, len(data) - (7 * MiB + 1))]
    source = describe_source(on_disk)
    config = ClientConfig.resolve(served.api_key, base_url=served.base_url, environ={})
    session = served.session()
    transport, endpoint = Transport(config, session), Endpoint(config)
    try:
        upload = await transport.send(
            endpoint.create_upload(
                filename="ranges.bin",
                purpose="assistants",
                size=sum(length for _, length in ranges),
                mime_type="application/octet-stream",
            ),
            af.Parameters(),
            json_sink(af.Upload),
        )
        part_ids = []
        for offset, length in ranges:
            form = build_form(
                [], file_field="data", filename="part", content_type="application/octet-stream"
            )
            progress = Progress()
            part = await transport.send(
                endpoint.add_upload_part(
                    upload.value.id, FormBody(form, source, offset=offset, length=length)
                ),
                af.Parameters(),
                json_sink(af.UploadPart),
                on_progress=progress,
            )
            progress.check(length)
            part_ids.append(part.value.id)
        completed = await transport.send(
            endpoint.complete_upload(upload.value.id, part_ids),
            af.Parameters(),
            json_sink(af.Upload),
        )
    finally:
        await transport.aclose()
        if session is not None:
            await session.close()
    assert completed.value.file is not None
    async with served.client() as client:
        stored = await client.files.content(completed.value.file.id)
    assert stored == b"".join(data[offset : offset + length] for offset, length in ranges)
    assert ways(caplog) == [expected_way(anyio_backend, served.tls)] * 2


async def test_a_file_cut_during_the_upload_is_a_local_error(
    served: Served,
    on_disk: pathlib.Path,
    anyio_backend: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def cut(done: int, total: int | None) -> None:
        # At the first report, the file loses all but its first 2 MiB.
        if os.path.getsize(on_disk) > 2 * MiB:
            os.truncate(on_disk, 2 * MiB)

    async with served.client(max_retries=0) as client:
        with pytest.raises(af.LocalIOError, match="bytes early: it changed during the upload"):
            await client.files.create(on_disk, "assistants", on_progress=cut)
        assert (await client.files.list()).data == []
    assert ways(caplog) == [expected_way(anyio_backend, served.tls)]


async def test_a_session_that_traces_body_chunks_sees_every_byte(
    local_server: ServerThread, on_disk: pathlib.Path, data: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    # A borrowed session told of each chunk of a request body: bytes the kernel sent from the
    # file would pass it by, so the file is read ahead.
    traced = 0

    async def on_chunk(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestChunkSentParams,
    ) -> None:
        nonlocal traced
        traced += len(params.chunk)

    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(on_chunk)
    async with (
        aiohttp.ClientSession(trace_configs=[trace]) as session,
        af.AsyncClient(
            local_server.api_key, base_url=local_server.openai_base_url, session=session
        ) as client,
    ):
        created = await client.files.create(on_disk, "assistants")
    assert created.bytes == len(data)
    assert traced > len(data)  # the form's head and tail too
    assert ways(caplog) == [READ_AHEAD]
