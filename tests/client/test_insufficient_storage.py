"""A 507 Insufficient Storage (the local server's answer on a full disk) is final, as a 4xx:
the client reports it at once instead of sending the whole upload twice more."""

from __future__ import annotations

import pytest

import aikit_files as af
from aikit_files.server import ServerThread
from aikit_files.testing import FaultProxy, Respond, Rule

pytestmark = pytest.mark.anyio


async def test_a_507_is_not_retried(local_server: ServerThread, proxy: FaultProxy) -> None:
    proxy.add_rule(Rule(Respond(507), method="POST", path="/v1/files"))
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        with pytest.raises(af.InternalServerError) as caught:
            await client.files.create(b"x" * 1000, "user_data", filename="a.txt")
    assert caught.value.status_code == 507
    uploads = [e for e in proxy.exchanges if e.method == "POST"]
    assert len(uploads) == 1


async def test_a_503_still_is(local_server: ServerThread, proxy: FaultProxy) -> None:
    # A guard: the same path, a status that is retried, makes two attempts (one retry).
    proxy.add_rule(Rule(Respond(503, retry_after=0.01), method="POST", path="/v1/files"))
    base_url = proxy.url + "/v1"
    async with af.AsyncClient(local_server.api_key, base_url=base_url, max_retries=1) as client:
        with pytest.raises(af.InternalServerError):
            await client.files.create(b"x" * 1000, "user_data", filename="a.txt")
    assert len([e for e in proxy.exchanges if e.method == "POST"]) == 2
