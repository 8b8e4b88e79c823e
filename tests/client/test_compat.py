"""The wall around aiohttp's private attributes (``_compat``, client side): each use, and its
fallback to public behaviour when the attribute is missing, run by flipping the module's flag
or handing it an object without the attribute (aiohttp itself is never patched)."""

from __future__ import annotations

from typing import cast

import aiohttp
import pytest
from aiohttp.abc import AbstractStreamWriter

import aikit_files as af
from aikit_files import _compat
from aikit_files._io.body import FormPayload, FormSender
from aikit_files._protocol.multipart import build_form
from aikit_files._protocol.requests import FormBody
from aikit_files._protocol.sources import describe_source
from aikit_files.server import ServerThread
from aikit_files.testing import FaultProxy, Reset, Rule

pytestmark = pytest.mark.anyio


@pytest.fixture(params=[True, False], ids=["private switch", "fallback"])
def retry_switch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Runs a test with aiohttp's private retry switch, and again as if aiohttp lacked it."""
    if request.param and not _compat.RETRY_SWITCH:
        pytest.skip("this aiohttp has no _retry_connection: only the fallback runs")
    monkeypatch.setattr(_compat, "RETRY_SWITCH", request.param)
    return bool(request.param)


def test_the_switch_is_found_in_the_aiohttp_we_pin() -> None:
    # The floor (3.14.5) has it; a newer aiohttp without it runs the fallback (make test-latest).
    if aiohttp.__version__ == "3.14.5":
        assert _compat.RETRY_SWITCH


async def test_aiohttp_never_sends_a_request_again_on_its_own(
    retry_switch: bool, proxy: FaultProxy, local_server: ServerThread
) -> None:
    # aiohttp would send a GET again, once, when its connection breaks; with max_retries=0 the
    # call makes exactly one attempt, switch or no switch.
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        made = await client.files.create(b"x", "user_data")  # a connection to reuse
        proxy.add_rule(Rule(Reset(), method="GET", ordinal=1))
        with pytest.raises(af.APIConnectionError):
            await client.files.retrieve(made.id, max_retries=0)
        assert [e.method for e in proxy.exchanges] == ["POST", "GET"]
        # A DELETE sent whole is looked for, never sent again by aiohttp behind our back.
        proxy.add_rule(Rule(Reset(), method="DELETE", ordinal=1))
        with pytest.raises(af.APIConnectionError):
            await client.files.delete(made.id, max_retries=0)
        assert [e.method for e in proxy.exchanges][2:] == ["DELETE", "GET"]


async def test_our_retries_and_reused_connections_work_either_way(
    retry_switch: bool, proxy: FaultProxy, local_server: ServerThread
) -> None:
    proxy.add_rule(Rule(Reset(), method="GET", ordinal=1))
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        made = await client.files.create(b"x", "user_data")
        for _ in range(3):  # each on the one connection kept alive
            assert await client.files.retrieve(made.id, max_retries=1) == made
    assert [e.method for e in proxy.exchanges] == ["POST"] + ["GET"] * 4


class _Writer:
    """A request writer as far as ``traces_each_chunk`` looks: its public ``on_body_write``,
    and, unless left out, aiohttp's private ``_on_chunk_sent``."""

    on_body_write = None


def _writer(**attributes: object) -> AbstractStreamWriter:
    writer = _Writer()
    for name, value in attributes.items():
        setattr(writer, name, value)
    return cast(AbstractStreamWriter, writer)


async def _on_chunk(chunk: bytes) -> None:
    pass


def test_a_writer_with_no_trace_of_its_chunks_allows_sendfile() -> None:
    assert not _compat.traces_each_chunk(_writer(_on_chunk_sent=None))


def test_a_traced_writer_does_not() -> None:
    assert _compat.traces_each_chunk(_writer(_on_chunk_sent=_on_chunk))
    assert _compat.traces_each_chunk(_writer(_on_chunk_sent=None, on_body_write=print))


def test_a_writer_that_lacks_the_private_hook_counts_as_traced() -> None:
    # The fallback: unable to tell, the body goes by read-ahead, which every trace sees.
    assert _compat.traces_each_chunk(_writer())


def test_the_body_tells_aiohttp_its_size_through_public_properties() -> None:
    form = build_form([("purpose", "user_data")], filename="a.txt", content_type="text/plain")
    body = FormBody(form, describe_source(b"hello", 100))
    payload = FormPayload(FormSender(body), None)
    assert payload.size == body.content_length == len(form.head) + 5 + len(form.tail)
    assert payload.autoclose
    assert "_size" not in vars(payload)
    assert "_autoclose" not in vars(type(payload))
