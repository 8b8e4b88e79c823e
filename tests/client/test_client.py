"""AsyncClient: configuration from arguments and environment, sessions, shutdown, tasks."""

from __future__ import annotations

import asyncio
import gc
import warnings
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from faults import API_KEY, FaultServer, client_options

import aikit_files as af
from aikit_files.server import ServerThread
from aikit_files.testing import Delay, FaultProxy, Rule

pytestmark = pytest.mark.anyio

#: A base URL where nothing listens.
NOWHERE = "http://127.0.0.1:9/v1"


async def test_headers_reach_the_server(fault_server: FaultServer) -> None:
    options = client_options(fault_server, organization="org-1", project="proj-1")
    async with af.AsyncClient(**options) as client:
        await client.files.retrieve(
            "file-1", extra_headers={"X-Trace": "t1", "OpenAI-Project": "p2"}
        )
    headers = fault_server.requests[0].headers
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["OpenAI-Organization"] == "org-1"
    assert headers["OpenAI-Project"] == "p2"
    assert headers["X-Trace"] == "t1"
    assert headers["User-Agent"].startswith("aikit-files")


async def test_a_proxy_from_the_environment_is_used(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", fault_server.url)
    # Nothing listens at the base URL: only a request sent through the proxy can succeed.
    async with af.AsyncClient(API_KEY, base_url="http://files.invalid/v1") as client:
        await client.files.retrieve("file-1")
    assert fault_server.requests[0].path == "/v1/files/file-1"
    assert fault_server.requests[0].headers["Host"] == "files.invalid"


async def test_configuration_from_the_environment(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", fault_server.openai_base_url)
    monkeypatch.setenv("OPENAI_ORG_ID", "org-env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-env")
    async with af.AsyncClient() as client:
        await client.files.list()
    headers = fault_server.requests[0].headers
    assert headers["Authorization"] == "Bearer sk-env"
    assert (headers["OpenAI-Organization"], headers["OpenAI-Project"]) == ("org-env", "proj-env")


async def test_azure_configuration_from_the_environment(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-env")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fault_server.url)
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-01-01")
    async with af.AsyncClient(provider="azure") as client:
        await client.files.list(purpose="batch")
    request = fault_server.requests[0]
    assert request.path == "/openai/files"
    assert request.query == {"api-version": "2025-01-01", "purpose": "batch"}
    assert request.headers["api-key"] == "az-env"


def test_the_key_never_shows() -> None:
    client = af.AsyncClient("sk-very-secret", base_url=NOWHERE)
    assert "sk-very-secret" not in repr(client)
    assert "sk-very-secret" not in repr(client.files)


@pytest.mark.parametrize("client_class", [af.AsyncClient, af.Client])
def test_an_unknown_argument_is_a_type_error_naming_it(client_class: type) -> None:
    with pytest.raises(af.InvalidArgumentTypeError, match="base_ur"):
        client_class("sk-x", base_ur="http://127.0.0.1:1/v1")


def test_a_client_can_be_built_outside_any_loop() -> None:
    client = af.AsyncClient(API_KEY, base_url=NOWHERE)
    with pytest.raises(RuntimeError, match="running event loop"):
        client.files.retrieve("file-1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gc.collect()


def test_one_client_per_loop() -> None:
    client = af.AsyncClient(API_KEY, base_url=NOWHERE)

    async def first() -> None:
        with pytest.raises(af.APIConnectionError):
            await client.files.retrieve("file-1", max_retries=0)

    async def second() -> None:
        with pytest.raises(RuntimeError, match="another event loop"):
            await client.files.retrieve("file-1")
        await client.aclose()

    asyncio.run(first())
    asyncio.run(second())


def through(proxy: FaultProxy, server: ServerThread) -> af.AsyncClient:
    """A client of the local server through the proxy."""
    return af.AsyncClient(server.api_key, base_url=proxy.url + "/v1")


async def test_aclose_waits_for_calls_in_flight(
    proxy: FaultProxy, local_server: ServerThread, stored: af.OpenAIFile
) -> None:
    proxy.add_rule(Rule(Delay(0.2)))
    results: list[af.Result] = []
    client = through(proxy, local_server)
    task = client.files.retrieve(stored.id, on_terminate=results.append)
    del task
    await client.aclose()
    assert len(results) == 1
    assert results[0].success
    assert isinstance(results[0], af.FileResult)
    assert results[0].file == stored
    assert [e.status for e in proxy.exchanges] == [200]


async def test_aclose_can_cancel_calls_in_flight(
    proxy: FaultProxy, local_server: ServerThread, stored: af.OpenAIFile
) -> None:
    proxy.add_rule(Rule(Delay(30)))
    results: list[af.Result] = []
    client = through(proxy, local_server)
    task = client.files.retrieve(stored.id, on_terminate=results.append)
    for _ in range(3000):  # until the request reaches the proxy (another thread), which holds it
        if proxy.exchanges:
            break
        await asyncio.sleep(0.01)
    await client.aclose(cancel=True)
    assert task.cancelled()
    assert results[0].cancelled
    assert [e.status for e in proxy.exchanges] == [None]  # it never got an answer


async def test_no_call_after_aclose(fault_server: FaultServer) -> None:
    client = af.AsyncClient(**client_options(fault_server))
    await client.aclose()
    with pytest.raises(af.ClientClosedError):
        client.files.retrieve("file-1")
    with pytest.raises(af.ClientClosedError):
        client.files.list()
    with pytest.raises(af.ClientClosedError):
        client.files.iterate()
    assert fault_server.requests == []


async def test_iteration_stops_when_the_client_closes(
    local_server: ServerThread, client: af.AsyncClient
) -> None:
    for name in ("a.txt", "b.txt"):
        await client.files.create(b"x", "assistants", filename=name)
    closing = af.AsyncClient(local_server.api_key, base_url=local_server.openai_base_url)
    files = closing.files.iterate(limit=1, order="asc")
    assert (await anext(files)).filename == "a.txt"  # a page with more after it
    await closing.aclose()
    with pytest.raises(af.ClientClosedError):
        await anext(files)


async def test_iterate_fetches_pages_lazily(
    proxy: FaultProxy, proxied: af.AsyncClient, client: af.AsyncClient
) -> None:
    first, second = [
        await client.files.create(b"x", "assistants", filename=f"{i}.txt") for i in range(2)
    ]
    await client.files.create(b"{}\n", "batch", filename="other.jsonl")
    files = proxied.files.iterate(limit=1, purpose="assistants")
    assert proxy.exchanges == []
    assert (await anext(files)).id == second.id  # newest first
    assert len(proxy.exchanges) == 1
    assert [f.id async for f in files] == [first.id]
    # The second page was asked for after the first page's last file, and had no more after it.
    assert [dict(parse_qsl(urlsplit(e.path).query)) for e in proxy.exchanges] == [
        {"limit": "1", "purpose": "assistants"},
        {"limit": "1", "purpose": "assistants", "after": second.id},
    ]


async def test_a_borrowed_session_stays_open(local_server: ServerThread) -> None:
    url = local_server.openai_base_url
    async with aiohttp.ClientSession() as session:
        async with af.AsyncClient(local_server.api_key, base_url=url, session=session) as client:
            await client.files.list()
        assert not session.closed
        headers = {"Authorization": f"Bearer {local_server.api_key}"}
        async with session.get(url + "/files", headers=headers) as response:
            assert response.status == 200


async def test_fire_and_forget_tasks_are_kept_alive(
    proxy: FaultProxy, proxied: af.AsyncClient, stored: af.OpenAIFile
) -> None:
    proxy.add_rule(Rule(Delay(0.1)))
    done = asyncio.Event()
    results: list[af.Result] = []

    def on_terminate(result: af.Result) -> None:
        results.append(result)
        done.set()

    proxied.files.retrieve(stored.id, on_terminate=on_terminate)
    gc.collect()
    await asyncio.wait_for(done.wait(), 5)
    assert results[0].success


async def test_result_objects_of_each_call(client: af.AsyncClient, stored: af.OpenAIFile) -> None:
    delivered: list[af.Result] = []
    await client.files.delete(stored.id, on_response=delivered.append)
    await asyncio.sleep(0.01)
    result = delivered[0]
    assert isinstance(result, af.FileDeletedResult)
    assert result.deleted == af.FileDeleted(id=stored.id, deleted=True)
    assert result.request_id is not None
    assert result.request_id.startswith("req_")
    assert result.request_id == result.headers["x-request-id"]
