"""``FaultProxy`` in front of the real local server (and of a small echo server), over loopback:
what each fault does to real clients, how rules pick requests, and that closing leaks nothing."""

from __future__ import annotations

import ast
import gzip
import http.client
import json
import logging
import os
import pathlib
import socket
import textwrap
import threading
import time
from collections.abc import Iterable, Iterator, Mapping

import aiohttp
import openai
import pytest
from aiohttp import web

import aikit_files as af
import aikit_files.testing
from aikit_files.server import ServerThread
from aikit_files.server._runner import AppThread
from aikit_files.testing import (
    Delay,
    Exchange,
    FaultProxy,
    LoseResponse,
    Reset,
    Respond,
    Rule,
    Stall,
    Truncate,
)

MiB = 1024 * 1024
#: More than loopback's socket buffers hold, so that a body the proxy stops reading stalls.
STALLING_SIZE = 32 * MiB
#: Generous: a bound that only a hang would pass.
HANG = 10.0


# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_loop_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails a test during which asyncio or aiohttp logged an error in any thread (a task
    destroyed while pending, an exception in a handler, ...)."""
    caplog.set_level(logging.ERROR)
    yield
    errors = [
        record
        for record in caplog.get_records("call")
        if record.levelno >= logging.ERROR and record.name.split(".")[0] in ("asyncio", "aiohttp")
    ]
    assert not errors, [record.getMessage() for record in errors]


@pytest.fixture
def key(local_server: ServerThread) -> str:
    assert local_server.api_key is not None
    return local_server.api_key


@pytest.fixture
def sdk(proxy: FaultProxy, key: str) -> Iterator[openai.OpenAI]:
    """The official SDK, through the proxy, with no retries."""
    with openai.OpenAI(base_url=proxy.url + "/v1", api_key=key, max_retries=0) as client:
        yield client


@pytest.fixture
def direct(local_server: ServerThread, key: str) -> Iterator[openai.OpenAI]:
    """The official SDK talking to the server itself, to see what really happened there."""
    with openai.OpenAI(base_url=local_server.openai_base_url, api_key=key, max_retries=0) as c:
        yield c


def client(proxy: FaultProxy, key: str, timeout: af.Timeout | None = None) -> af.Client:
    """aikit_files' own sync client, through the proxy, with no retries."""
    return af.Client(key, base_url=proxy.url + "/v1", max_retries=0, timeout=timeout or HANG)


def sparse_file(tmp_path: pathlib.Path, size: int) -> pathlib.Path:
    """A file of ``size`` zero bytes that costs no disk and no time to write."""
    path = tmp_path / f"zeros-{size}.bin"
    with path.open("wb") as file:
        file.truncate(size)
    return path


def port_of(proxy: FaultProxy) -> int:
    return int(proxy.url.rsplit(":", 1)[1])


def request(
    proxy: FaultProxy,
    method: str,
    target: str,
    *,
    body: bytes | Iterable[bytes] | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request on a connection of its own, with ``http.client``: nothing added, nothing
    followed; an iterable body is sent chunked."""
    connection = http.client.HTTPConnection("127.0.0.1", port_of(proxy), timeout=HANG)
    try:
        chunked = body is not None and not isinstance(body, bytes)
        connection.request(
            method, target, body=body, headers=dict(headers or {}), encode_chunked=chunked
        )
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def statuses(exchanges: list[Exchange]) -> list[int | None]:
    return [exchange.status for exchange in exchanges]


def form(data: bytes, boundary: str = "b0undary") -> tuple[bytes, str]:
    """A ``POST /files`` form with ``data`` as its file, and its Content-Type."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return (
        head + data + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


async def _echo(request: web.Request) -> web.StreamResponse:
    if request.path == "/redirect":
        return web.Response(status=307, headers={"Location": "/elsewhere"})
    if request.path == "/chunked":
        response = web.StreamResponse()  # no length: sent chunked
        await response.prepare(request)
        for piece in (b"one,", b"two,", b"three"):
            await response.write(piece)
        await response.write_eof()
        return response
    if request.path == "/gzip":
        return web.Response(
            body=gzip.compress(b"squeezed " * 100),
            headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"},
        )
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
    response = web.json_response(
        {
            "method": request.method,
            "target": request.raw_path,
            "headers": [[name.lower(), value] for name, value in request.headers.items()],
            "size": size,
        }
    )
    response.headers["X-Upstream"] = "echo"
    response.headers.add("Set-Cookie", "a=1")
    response.headers.add("Set-Cookie", "b=2")
    return response


@pytest.fixture
def echo() -> Iterator[AppThread]:
    """A server that answers every request with what it received (method, target, headers,
    body size)."""

    def make_app() -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", _echo)
        return app

    with AppThread(make_app, name="echo") as running:
        yield running


# --- pass-through ----------------------------------------------------------------------------


def test_every_file_operation_passes_through(
    proxy: FaultProxy, sdk: openai.OpenAI, direct: openai.OpenAI
) -> None:
    data = os.urandom(6 * MiB + 7)
    created = sdk.files.create(file=("big.bin", data), purpose="assistants")
    assert direct.files.retrieve(created.id).bytes == len(data)
    assert [f.id for f in sdk.files.list(purpose="assistants")] == [created.id]
    assert sdk.files.retrieve(created.id) == direct.files.retrieve(created.id)
    assert sdk.files.content(created.id).content == data
    assert sdk.files.delete(created.id).deleted
    assert list(direct.files.list()) == []

    exchanges = proxy.exchanges
    assert [(e.ordinal, e.method, e.fault) for e in exchanges] == [
        (1, "POST", None),
        (2, "GET", None),
        (3, "GET", None),
        (4, "GET", None),
        (5, "DELETE", None),
    ]
    assert exchanges[1].path == "/v1/files?purpose=assistants"
    assert all(e.forwarded and e.upstream_status == e.status == 200 for e in exchanges)
    assert exchanges[0].request_bytes > len(data)  # the file, and the form around it
    assert [e.request_bytes for e in exchanges[1:]] == [0, 0, 0, 0]


def test_aikit_files_client_passes_through(
    proxy: FaultProxy, key: str, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(os.urandom(3 * MiB))
    with client(proxy, key) as c:
        created = c.files.create(path, "assistants")
        assert c.files.content(created.id) == path.read_bytes()
    assert [e.forwarded for e in proxy.exchanges] == [True, True]


def test_headers_query_and_bodies_are_forwarded_as_sent(echo: AppThread) -> None:
    with FaultProxy(echo.url) as proxy:
        status, headers, body = request(
            proxy,
            "POST",
            "/v1/files?b=2&a=1&a=%2F+x&empty=",
            body=b"0123456789",
            headers={
                "Authorization": "Bearer sk-secret",
                "api-key": "azure-secret",
                "Content-Type": "application/json",
                "Connection": "keep-alive, X-Hop",
                "X-Hop": "named by Connection",
                "Keep-Alive": "timeout=5",
                "Proxy-Authorization": "Basic cHJveHk=",
                "TE": "trailers",
            },
        )
    assert status == 200
    seen = json.loads(body)
    received = dict(seen["headers"])
    assert seen["target"] == "/v1/files?b=2&a=1&a=%2F+x&empty="
    assert seen["size"] == 10
    assert received["authorization"] == "Bearer sk-secret"
    assert received["api-key"] == "azure-secret"
    assert received["content-type"] == "application/json"
    assert received["content-length"] == "10"
    assert received["host"] == f"127.0.0.1:{echo.port}"
    for dropped in ("x-hop", "keep-alive", "proxy-authorization", "te", "transfer-encoding"):
        assert dropped not in received
    # nothing the client did not send (http.client sends Accept-Encoding: identity itself)
    assert "user-agent" not in received
    assert received["accept-encoding"] == "identity"
    assert headers["X-Upstream"] == "echo"
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert headers["Content-Length"] == str(len(body))


def test_a_chunked_request_body_is_forwarded_chunked(echo: AppThread) -> None:
    pieces = [os.urandom(100_000) for _ in range(30)]
    with FaultProxy(echo.url) as proxy:
        status, _, body = request(proxy, "POST", "/upload", body=iter(pieces))
    assert status == 200
    seen = json.loads(body)
    received = dict(seen["headers"])
    assert received["transfer-encoding"] == "chunked"
    assert "content-length" not in received
    assert seen["size"] == 3_000_000
    assert proxy.exchanges[0].request_bytes == 3_000_000


def test_a_chunked_upload_reaches_the_server(
    proxy: FaultProxy, key: str, direct: openai.OpenAI
) -> None:
    data = os.urandom(2 * MiB)
    payload, content_type = form(data)
    pieces = (payload[i : i + 65_536] for i in range(0, len(payload), 65_536))
    status, _, body = request(
        proxy,
        "POST",
        "/v1/files",
        body=pieces,
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
    )
    assert status == 200, body
    assert direct.files.content(json.loads(body)["id"]).content == data


def test_redirects_and_encodings_are_passed_on_untouched(echo: AppThread) -> None:
    with FaultProxy(echo.url) as proxy:
        status, headers, _ = request(proxy, "GET", "/redirect")
        assert (status, headers["Location"]) == (307, "/elsewhere")
        status, headers, body = request(proxy, "GET", "/gzip")
        assert headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(body) == b"squeezed " * 100
        status, headers, _ = request(proxy, "GET", "/plain")
        assert "Content-Encoding" not in headers
        status, headers, body = request(proxy, "GET", "/chunked")
        assert headers["Transfer-Encoding"] == "chunked"
        assert body == b"one,two,three"
        proxy.add_rule(Rule(Truncate(6), path="/chunked"))
        with pytest.raises(http.client.IncompleteRead) as cut:
            request(proxy, "GET", "/chunked")
        assert cut.value.partial == b"one,tw"
    assert len(proxy.exchanges) == 5  # the redirect was not followed


def test_an_early_answer_of_the_upstream_reaches_the_client(tmp_path: pathlib.Path) -> None:
    with (
        ServerThread(tmp_path / "data", api_key="sk-small", file_limit=MiB) as small,
        FaultProxy(small.url) as proxy,
        openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-small", max_retries=0) as sdk,
    ):
        # the server answers 413 before it has read the body the SDK is still sending
        with pytest.raises(openai.APIStatusError) as caught:
            sdk.files.create(file=("big.bin", os.urandom(8 * MiB)), purpose="assistants")
        assert caught.value.status_code == 413
        assert list(sdk.files.list()) == []
    assert statuses(proxy.exchanges) == [413, 200]


@pytest.mark.anyio
async def test_expect_100_continue(proxy: FaultProxy, key: str, direct: openai.OpenAI) -> None:
    data = os.urandom(500_000)
    payload, content_type = form(data)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
    proxy.add_rule(Rule(Respond(429, retry_after_ms=10), ordinal=2))
    async with aiohttp.ClientSession() as session:
        async with session.post(
            proxy.url + "/v1/files", data=payload, headers=headers, expect100=True
        ) as answer:
            assert answer.status == 200
            created = await answer.json()
        # answered without the body: the client waits for a 100 Continue that never comes
        async with session.post(
            proxy.url + "/v1/files", data=payload, headers=headers, expect100=True
        ) as answer:
            assert answer.status == 429
            assert answer.headers["retry-after-ms"] == "10"
    assert direct.files.content(created["id"]).content == data
    assert [e.request_bytes for e in proxy.exchanges] == [len(payload), 0]


# --- faults ----------------------------------------------------------------------------------


def test_reset_after_some_request_bytes(
    proxy: FaultProxy, key: str, sdk: openai.OpenAI, direct: openai.OpenAI
) -> None:
    proxy.add_rule(Rule(Reset(after_bytes=1000), method="POST", path="/v1/files"))
    with client(proxy, key) as c, pytest.raises(af.APIConnectionError):
        c.files.create(os.urandom(MiB), "assistants")
    with pytest.raises(openai.APIConnectionError):
        sdk.files.create(file=("a.bin", os.urandom(MiB)), purpose="assistants")
    uploads = [exchange for exchange in proxy.exchanges if exchange.method == "POST"]
    for exchange in uploads:
        assert exchange.fault == Reset(1000)
        assert exchange.request_bytes == 1000
        assert not exchange.forwarded
        assert exchange.upstream_status is None
        assert exchange.status is None
    assert len(uploads) == 2
    # When loopback's buffers took the whole body before the reset, our client looks for the
    # file it may have made (a GET the rule lets through) before giving up; the SDK does not.
    lookups = [exchange for exchange in proxy.exchanges if exchange.method != "POST"]
    assert all(
        (e.method, e.path.split("?")[0], e.fault, e.status) == ("GET", "/v1/files", None, 200)
        for e in lookups
    )
    assert len(lookups) <= 1
    assert list(direct.files.list()) == []


def test_reset_is_a_tcp_rst(proxy: FaultProxy) -> None:
    proxy.add_rule(Rule(Reset()))
    with socket.create_connection(("127.0.0.1", port_of(proxy)), timeout=HANG) as raw:
        raw.sendall(b"GET /v1/files HTTP/1.1\r\nHost: proxy\r\n\r\n")
        # A FIN would read as b"" (end of stream); only an RST raises.
        with pytest.raises(ConnectionResetError):
            raw.recv(1024)


def test_respond_429_to_a_64_mib_upload(
    proxy: FaultProxy, key: str, tmp_path: pathlib.Path
) -> None:
    proxy.add_rule(Rule(Respond(429, retry_after=2), method="POST"))
    path = sparse_file(tmp_path, 64 * MiB)
    with client(proxy, key) as c, pytest.raises(af.RateLimitError) as caught:
        c.files.create(path, "assistants")
    assert "FaultProxy" in str(caught.value)
    (exchange,) = proxy.exchanges
    assert exchange.status == 429
    assert not exchange.forwarded
    assert exchange.request_bytes > 64 * MiB  # read to its end before the answer


def test_respond_with_retry_after_headers_and_an_error_envelope(
    proxy: FaultProxy, sdk: openai.OpenAI
) -> None:
    proxy.add_rule(Rule(Respond(429, retry_after=0.25), method="POST", path="/v1/files"))
    proxy.add_rule(Rule(Respond(503, retry_after_ms=1500), path="/v1/files/file-b"))
    with pytest.raises(openai.RateLimitError) as limited:
        sdk.files.create(file=("a.bin", os.urandom(4 * MiB)), purpose="assistants")
    assert limited.value.response.headers["Retry-After"] == "0.25"
    assert limited.value.response.headers["Content-Type"] == "application/json"
    assert limited.value.body == {
        "message": "Too Many Requests (a fault injected by FaultProxy).",
        "type": "rate_limit_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.InternalServerError) as unavailable:
        sdk.files.retrieve("file-b")
    assert unavailable.value.response.headers["retry-after-ms"] == "1500"
    assert "Retry-After" not in unavailable.value.response.headers
    assert [(e.status, e.forwarded) for e in proxy.exchanges] == [(429, False), (503, False)]


def test_respond_with_a_body_and_headers_of_ones_own(proxy: FaultProxy) -> None:
    proxy.add_rule(
        Rule(
            Respond(
                200,
                body=b'{"id": "file-fake"}',
                headers={"Content-Type": "application/json", "x-request-id": "req_1"},
                retry_after="Wed, 21 Oct 2015 07:28:00 GMT",
            )
        )
    )
    status, headers, body = request(proxy, "GET", "/v1/files/file-fake")
    assert (status, body) == (200, b'{"id": "file-fake"}')
    assert headers["x-request-id"] == "req_1"
    assert headers["Retry-After"] == "Wed, 21 Oct 2015 07:28:00 GMT"


def test_delay(proxy: FaultProxy, sdk: openai.OpenAI) -> None:
    proxy.add_rule(Rule(Delay(0.3), method="GET"))
    started = time.monotonic()
    assert list(sdk.files.list()) == []
    assert time.monotonic() - started >= 0.3
    assert proxy.exchanges[0].fault == Delay(0.3)
    assert proxy.exchanges[0].status == 200


def test_stall_a_response_body(proxy: FaultProxy, key: str, direct: openai.OpenAI) -> None:
    data = os.urandom(MiB)
    created = direct.files.create(file=("a.bin", data), purpose="assistants")
    proxy.add_rule(Rule(Stall(100), path=f"/v1/files/{created.id}/content", ordinal=1))
    proxy.add_rule(Rule(Stall(100, seconds=0.2), path=f"/v1/files/{created.id}/content"))
    # NOTE: a read timeout the head of the answer meets on a loaded machine, so that what
    # times out is the stalled body.
    with client(proxy, key, timeout=af.Timeout(read=3.0)) as c:
        with pytest.raises(af.APITimeoutError):
            c.files.content(created.id)
        assert c.files.content(created.id) == data  # stalled for a while, then whole
    stalled, resumed = proxy.exchanges
    assert stalled.upstream_status == stalled.status == 200
    assert resumed.fault == Stall(100, seconds=0.2)


def test_stall_a_request_body(
    proxy: FaultProxy, key: str, tmp_path: pathlib.Path, direct: openai.OpenAI
) -> None:
    proxy.add_rule(Rule(Stall(where="request"), method="POST", ordinal=1))
    proxy.add_rule(Rule(Stall(1000, seconds=0.2, where="request"), method="POST"))
    # NOTE: the official SDK, whose socket closes when its write times out; aikit_files'
    # client closes such a connection gracefully, so its socket lingers, unsent bytes queued.
    with (
        openai.OpenAI(
            base_url=proxy.url + "/v1",
            api_key=key,
            max_retries=0,
            timeout=openai.Timeout(HANG, write=0.5),
        ) as stalling,
        pytest.raises(openai.APITimeoutError),
    ):
        stalling.files.create(file=("big.bin", bytes(STALLING_SIZE)), purpose="assistants")
    small = tmp_path / "small.bin"
    small.write_bytes(os.urandom(300_000))
    with client(proxy, key) as c:
        created = c.files.create(small, "assistants")  # held up a while, then whole
    assert direct.files.content(created.id).content == small.read_bytes()
    stalled, resumed = proxy.exchanges
    assert stalled.request_bytes == 0
    assert stalled.forwarded
    assert stalled.status is None
    assert resumed.request_bytes > 300_000
    assert resumed.status == 200


def test_truncate_a_response(
    proxy: FaultProxy, key: str, direct: openai.OpenAI, sdk: openai.OpenAI
) -> None:
    created = direct.files.create(file=("a.bin", os.urandom(MiB)), purpose="assistants")
    proxy.add_rule(Rule(Truncate(1000), path=f"/v1/files/{created.id}/content"))
    with client(proxy, key) as c, pytest.raises(af.APIConnectionError, match="cut short"):
        c.files.content(created.id)
    with pytest.raises(openai.APIConnectionError):
        sdk.files.content(created.id)
    assert [(e.upstream_status, e.status) for e in proxy.exchanges] == [(200, 200)] * 2


def test_lose_the_response_to_a_request_the_server_handled(
    proxy: FaultProxy, sdk: openai.OpenAI, direct: openai.OpenAI
) -> None:
    proxy.add_rule(Rule(LoseResponse(), method="POST"))
    data = os.urandom(2 * MiB)
    with pytest.raises(openai.APIConnectionError):
        sdk.files.create(file=("a.bin", data), purpose="assistants")
    (stored,) = direct.files.list()
    assert direct.files.content(stored.id).content == data
    (exchange,) = proxy.exchanges
    assert exchange.forwarded
    assert exchange.upstream_status == 200
    assert exchange.status is None


def test_an_upstream_that_is_down_is_a_502() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: connections are refused
        with FaultProxy(f"http://127.0.0.1:{port}") as proxy:
            status, headers, body = request(proxy, "POST", "/v1/files", body=os.urandom(MiB))
    assert status == 502
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["error"]["type"] == "server_error"
    (exchange,) = proxy.exchanges
    assert not exchange.forwarded
    assert exchange.status == 502
    assert exchange.request_bytes == MiB


# --- rules -----------------------------------------------------------------------------------


def test_rules_select_by_method_path_and_ordinal(proxy: FaultProxy, key: str) -> None:
    proxy.add_rule(Rule(Respond(500), method="get", path="/v1/files/file-x", ordinal={2, 3}))
    proxy.add_rule(Rule(Respond(503), method="DELETE", ordinal=1))
    proxy.add_rule(Rule(Respond(418), path="/v1/files?limit=1"))
    auth = {"Authorization": f"Bearer {key}"}
    sent = [
        ("GET", "/v1/files/file-x"),  # GET file-x #1
        ("GET", "/v1/files/file-x/content"),  # GET file-x #2
        ("DELETE", "/v1/files/file-x"),  # DELETE #1
        ("GET", "/v1/files/file-x"),  # GET file-x #3
        ("GET", "/v1/files/file-x"),  # GET file-x #4
        ("DELETE", "/v1/files/file-x"),  # DELETE #2
        ("GET", "/v1/files?limit=1"),
        ("POST", "/v1/files?limit=1"),
        ("GET", "/v1/files?limit=2"),
    ]
    got = [request(proxy, method, target, headers=auth)[0] for method, target in sent]
    assert got == [404, 500, 503, 500, 404, 404, 418, 418, 200]
    forwarded = [True, False, False, False, True, True, False, False, True]
    assert [e.forwarded for e in proxy.exchanges] == forwarded
    assert [e.ordinal for e in proxy.exchanges] == list(range(1, 10))


def test_every_matching_rule_counts_a_request_even_if_another_applies(proxy: FaultProxy) -> None:
    proxy.add_rule(Rule(Respond(500), path="/v1/files", ordinal=1))
    proxy.add_rule(Rule(Respond(503), path="/v1/files", ordinal=2))
    got = [request(proxy, "GET", "/v1/files")[0] for _ in range(3)]
    assert got == [500, 503, 401]  # the third goes through (and lacks a key)


def test_rules_given_at_construction_added_and_cleared_while_running(
    local_server: ServerThread, key: str
) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    with FaultProxy(local_server.url, [Rule(Respond(500), ordinal=1)]) as proxy:
        assert request(proxy, "GET", "/v1/files", headers=auth)[0] == 500
        assert request(proxy, "GET", "/v1/files", headers=auth)[0] == 200
        # a rule added now counts from now on, from another thread as well
        adder = threading.Thread(target=proxy.add_rule, args=(Rule(Respond(502), ordinal=2),))
        adder.start()
        adder.join()
        assert len(proxy.rules) == 2
        assert request(proxy, "GET", "/v1/files", headers=auth)[0] == 200
        assert request(proxy, "GET", "/v1/files", headers=auth)[0] == 502
        proxy.add_rule(Rule(Respond(504)))
        assert request(proxy, "GET", "/v1/files", headers=auth)[0] == 504
        proxy.clear_rules()
        assert not proxy.rules
        assert request(proxy, "GET", "/v1/files", headers=auth)[0] == 200
    assert statuses(proxy.exchanges) == [500, 200, 200, 502, 504, 200]


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="ordinals count from 1"):
        Rule(Reset(), ordinal=0)
    with pytest.raises(ValueError, match="empty"):
        Rule(Reset(), ordinal=())
    with pytest.raises(TypeError):
        Rule(Reset(), ordinal=True)
    with pytest.raises(TypeError):
        Rule("reset")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="200 to 599"):
        Respond(100)
    with pytest.raises(ValueError, match="retry_after must be 0 or more"):
        Respond(429, retry_after=-1)
    with pytest.raises(ValueError, match="after_bytes must be 0 or more"):
        Reset(-1)
    with pytest.raises(ValueError, match="seconds must be 0 or more"):
        Delay(float("nan"))
    with pytest.raises(ValueError, match="where"):
        Stall(where="both")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="http or https"):
        FaultProxy("ftp://example.com")
    with pytest.raises(ValueError, match="no query"):
        FaultProxy("http://example.com/?a=1")
    with pytest.raises(TypeError):
        FaultProxy("http://example.com", [Reset()])  # type: ignore[list-item]
    assert Rule(Reset(), method="post", ordinal=[1, 2]) == Rule(
        Reset(), method="POST", ordinal={2, 1}
    )
    assert hash(Respond(429, headers={"a": "b"})) == hash(Respond(429, headers={"a": "b"}))
    with pytest.raises(RuntimeError, match="started"):
        _ = FaultProxy("http://example.com").url


# --- lifetime --------------------------------------------------------------------------------


def proxy_threads() -> set[threading.Thread]:
    """The proxies' threads alive now (compared with those alive when a test began: another
    test's proxy may still be closing)."""
    return {t for t in threading.enumerate() if t.name == "aikit-files-fault-proxy"}


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=HANG).close()
    except ConnectionRefusedError:
        return True
    return False


def test_start_and_close_plainly(local_server: ServerThread) -> None:
    before = proxy_threads()
    proxy = FaultProxy(local_server.url)
    assert proxy.start() is proxy
    assert proxy.running
    assert proxy.upstream_url == local_server.url
    assert request(proxy, "GET", "/v1/files")[0] == 401
    with pytest.raises(RuntimeError):
        proxy.start()
    proxy.close()
    proxy.close()  # closing twice is harmless
    assert not proxy.running
    assert refused(port_of(proxy))
    assert proxy_threads() <= before
    assert "closed" in repr(proxy)


@pytest.mark.anyio
async def test_start_and_close_awaited(local_server: ServerThread) -> None:
    before = proxy_threads()
    proxy = await FaultProxy(local_server.url).start()
    assert proxy.running
    assert f"url='{proxy.url}'" in repr(proxy)
    await proxy.close()
    await proxy.close()
    assert not proxy.running
    assert refused(port_of(proxy))
    assert proxy_threads() <= before


def test_with(local_server: ServerThread, key: str) -> None:
    before = proxy_threads()
    with FaultProxy(local_server.url) as proxy, client(proxy, key) as c:
        assert c.files.list().data == []
    assert refused(port_of(proxy))
    assert proxy_threads() <= before


@pytest.mark.anyio
async def test_async_with(local_server: ServerThread, key: str) -> None:
    before = proxy_threads()
    async with (
        FaultProxy(local_server.url) as proxy,
        af.AsyncClient(key, base_url=proxy.url + "/v1", max_retries=0) as c,
    ):
        assert (await c.files.list()).data == []
    assert refused(port_of(proxy))
    assert proxy_threads() <= before


def test_close_cuts_off_stalled_requests(echo: AppThread) -> None:
    before = proxy_threads()
    proxy = FaultProxy(echo.url, [Rule(Stall(where="request"), method="POST"), Rule(Stall())])
    proxy.start()
    with (
        socket.create_connection(("127.0.0.1", port_of(proxy)), timeout=HANG) as uploading,
        socket.create_connection(("127.0.0.1", port_of(proxy)), timeout=HANG) as downloading,
    ):
        uploading.sendall(b"POST /up HTTP/1.1\r\nHost: p\r\nContent-Length: 100\r\n\r\n")
        downloading.sendall(b"GET /down HTTP/1.1\r\nHost: p\r\n\r\n")
        head = downloading.recv(65536)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert head.endswith(b"\r\n\r\n")
        started = time.monotonic()
        proxy.close()
        assert time.monotonic() - started < HANG
        assert uploading.recv(1024) == b""
        assert downloading.recv(1024) == b""
    assert refused(port_of(proxy))
    assert proxy_threads() <= before
    assert [e.upstream_status for e in proxy.exchanges] in ([None, 200], [200, None])


# --- the package -----------------------------------------------------------------------------


def test_public_names() -> None:
    names = aikit_files.testing.__all__
    assert list(names) == sorted(names)
    assert {"FaultProxy", "Rule", "Exchange", "Reset", "Respond", "Delay", "Stall"} <= set(names)
    assert {"Truncate", "LoseResponse", "Fault"} <= set(names)
    for name in names:
        assert getattr(aikit_files.testing, name) is not None


def test_the_proxy_imports_no_client_module() -> None:
    # The proxy stands between a client and a server: it is neither. (The pytest plugin, in the
    # same package, makes clients for users' tests, as a user would.)
    package = pathlib.Path(aikit_files.testing.__file__).parent
    for module in (package / "_proxy.py", package / "_faults.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert name.split(".")[0] != "aikit_files" or name.startswith(
                    "aikit_files.server"
                ), f"{module.name} imports {name}"


def test_the_docstring_example_runs(tmp_path: pathlib.Path) -> None:
    doc = aikit_files.testing.__doc__
    assert doc is not None
    code = doc.split("::\n", 1)[1]
    namespace: dict[str, object] = {}
    exec(compile(textwrap.dedent(code), "example", "exec"), namespace)
    example = namespace["test_an_upload_outlives_a_rate_limit"]
    assert callable(example)
    example(tmp_path)
