"""``download`` to a binary file object: the bytes as they arrive, the object left open, and no
retry once bytes were written."""

from __future__ import annotations

import io
import os

import pytest

import aikit_files as af
from aikit_files.testing import FaultProxy, Reset, Rule, Truncate

pytestmark = pytest.mark.anyio


async def test_the_content_goes_to_the_object_as_it_arrives(client: af.AsyncClient) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    made = await client.files.create(data, "assistants", filename="x.bin")
    sink = io.BytesIO(b"kept:")
    sink.seek(0, io.SEEK_END)
    seen: list[tuple[int, int | None]] = []
    task = client.files.download(made.id, sink, on_progress=lambda *a: seen.append(a))
    assert await task is None  # type: ignore[func-returns-value]
    assert not sink.closed
    assert sink.getvalue() == b"kept:" + data
    assert seen[-1] == (len(data), len(data))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


async def test_a_break_after_bytes_were_written_is_not_retried(
    proxy: FaultProxy, proxied: af.AsyncClient, client: af.AsyncClient
) -> None:
    made = await client.files.create(os.urandom(2 * 1024 * 1024), "assistants", filename="b")
    proxy.add_rule(Rule(Truncate(after_bytes=1024 * 1024), method="GET"))
    sink = io.BytesIO()
    with pytest.raises(af.APIConnectionError, match="cannot be rewound, so it is not retried"):
        await proxied.files.download(made.id, sink, max_retries=2)
    assert len([e for e in proxy.exchanges if e.method == "GET"]) == 1
    assert 0 < len(sink.getvalue()) <= 1024 * 1024


async def test_a_failure_before_any_byte_is_retried(
    proxy: FaultProxy, proxied: af.AsyncClient, client: af.AsyncClient
) -> None:
    data = os.urandom(1000)
    made = await client.files.create(data, "assistants", filename="b")
    proxy.add_rule(Rule(Reset(), method="GET", ordinal=1))
    sink = io.BytesIO()
    await proxied.files.download(made.id, sink, max_retries=1)
    assert sink.getvalue() == data


async def test_a_write_that_fails_is_a_local_error(client: af.AsyncClient) -> None:
    made = await client.files.create(b"abc", "assistants", filename="b")
    closed = io.BytesIO()
    closed.close()
    with pytest.raises(af.LocalIOError, match="writing the content failed"):
        await client.files.download(made.id, closed)
