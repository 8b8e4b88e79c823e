"""The API key never shows, even from a server that echoes it everywhere it can: error bodies,
success bodies (every string field of every model), JSON that spells it with escapes
(``\\u0073k-...``, ``\\/``), non-JSON answers, malformed models, headers (the request id, rate
limits, Retry-After), a redirect's Location, a reason phrase. Every operation, both providers,
every way a call can end; then every repr, str, exception chain, result and log record is
scanned for the key, and so are the reprs of the parameters a call was given."""

from __future__ import annotations

import asyncio
import json
import logging
import pathlib
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

import aikit_files as af
from aikit_files.server._runner import AppThread

pytestmark = pytest.mark.anyio

# NOTE: with a "/", which JSON may spell "\\/".
KEY = "sk-echoed/Zq8vQ2xW7tLp0"
FILE = {"id": "file-abc", "object": "file", "bytes": 4, "created_at": 1, "filename": "a.txt",
        "purpose": "user_data", "status": "processed"}  # fmt: skip
LIST = {"object": "list", "data": [FILE], "has_more": False}
#: The same answers, with the key in every string field the client reads.
ECHOING_FILE = {**FILE, "id": KEY, "filename": f"a {KEY}.txt", "purpose": KEY,
                "status_details": KEY}  # fmt: skip
ECHOING_LIST = {"object": "list", "data": [ECHOING_FILE], "has_more": False, "first_id": KEY,
                "last_id": KEY}  # fmt: skip
ECHOING_DELETED = {"id": KEY, "object": KEY, "deleted": True}
ECHO = {"X-Echo": KEY, "x-request-id": KEY, "apim-request-id": KEY,
        "x-ratelimit-limit-requests": KEY, "x-ratelimit-reset-requests": KEY}  # fmt: skip


def scenario_response(scenario: str, request: web.Request) -> web.StreamResponse:
    """What the echoing server answers, in each scenario, to any request.

    A file's content is data, handed over as it is: a 200 answer to ``content`` holds no key.
    """
    if request.path.endswith("/content") and "200" in scenario:
        return web.Response(body=b"data", headers=ECHO)
    if scenario == "error body":
        detail = {"message": f"bad key {KEY}", "code": KEY, "type": KEY, "param": KEY}
        return web.json_response({"error": detail}, status=400, headers=ECHO)
    if scenario == "azure error body":
        detail = {"code": KEY, "message": f"key {KEY}", "target": KEY}
        return web.json_response({"error": detail}, status=404, headers=ECHO)
    if scenario == "text error, retried":
        return web.Response(status=500, text=f"oops {KEY}", headers=ECHO)
    if scenario == "reason phrase":
        return web.Response(status=403, reason=f"Forbidden {KEY}", headers=ECHO)
    if scenario == "rate limited":
        return web.json_response(
            {"error": {"message": KEY}}, status=429, headers={**ECHO, "Retry-After": KEY}
        )
    if scenario == "non-JSON 200":
        return web.Response(status=200, text=f"not json {KEY}", headers=ECHO)
    if scenario == "malformed 200":
        bad = {"id": 5, "filename": 7, "bytes": KEY, "data": KEY, "deleted": KEY}
        return web.json_response(bad, headers=ECHO)
    if scenario == "deeply nested 200":
        return web.Response(status=200, text="[" * 100_000 + KEY, headers=ECHO)
    if scenario == "redirect":
        return web.Response(status=302, headers={**ECHO, "Location": f"http://x.invalid/{KEY}"})
    if scenario.startswith("escaped error body"):
        detail = {"message": f"bad key {KEY}", "code": KEY, "type": KEY, "param": KEY}
        return spelled({"error": detail}, scenario, status=401)
    if "echoing 200" in scenario:
        if request.method == "GET" and request.path.endswith("/files"):
            return spelled(ECHOING_LIST, scenario)
        return spelled(ECHOING_DELETED if request.method == "DELETE" else ECHOING_FILE, scenario)
    # "headers only": a good answer whose headers echo the key.
    if request.path.endswith("/content"):
        return web.Response(body=b"data", headers=ECHO)
    if request.method == "GET" and request.path.endswith("/files"):
        return web.json_response(LIST, headers=ECHO)
    if request.method == "DELETE":
        return web.json_response(
            {"id": "file-abc", "object": "file", "deleted": True}, headers=ECHO
        )
    return web.json_response(FILE, headers=ECHO)


def spelled(document: object, scenario: str, status: int = 200) -> web.Response:
    """``document`` as JSON, with the key spelled as the scenario says: as it is, with every
    character a ``\\u`` escape, or with its ``/`` escaped (both valid JSON for the same text,
    neither holding the key's bytes)."""
    text = json.dumps(document)
    if "\\u-escaped" in scenario:
        text = text.replace(KEY, "".join(f"\\u{ord(c):04x}" for c in KEY))
    elif "slash-escaped" in scenario:
        text = text.replace(KEY, KEY.replace("/", "\\/"))
    assert json.loads(text) == document
    return web.Response(status=status, text=text, content_type="application/json")


SCENARIOS = [
    "error body",
    "azure error body",
    "text error, retried",
    "reason phrase",
    "rate limited",
    "non-JSON 200",
    "malformed 200",
    "deeply nested 200",
    "redirect",
    "escaped error body, \\u-escaped",
    "escaped error body, slash-escaped",
    "echoing 200",
    "echoing 200, \\u-escaped",
    "echoing 200, slash-escaped",
    "headers only",
]


class EchoServer:
    def __init__(self) -> None:
        self.scenario = "headers only"

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.StreamResponse:
            await request.read()
            return scenario_response(self.scenario, request)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        return app


@pytest.fixture
def echo() -> Iterator[tuple[EchoServer, AppThread]]:
    server = EchoServer()
    with AppThread(server.app) as running:
        yield server, running


def seen_in(value: object, depth: int = 0) -> Iterator[str]:
    """The texts an object shows: its repr and str, and for an exception its whole chain (causes,
    contexts, groups) and its attributes, and for a result its errors and exception."""
    if depth > 8:
        return
    yield repr(value)
    yield str(value)
    if isinstance(value, BaseException):
        yield "".join(traceback.format_exception(value))
        for attribute in vars(value).values():
            yield from seen_in(attribute, depth + 1)
        for linked in (value.__cause__, value.__context__):
            if linked is not None:
                yield from seen_in(linked, depth + 1)
        for inner in getattr(value, "exceptions", ()):
            yield from seen_in(inner, depth + 1)
    if isinstance(value, af.Result):
        yield from (repr(e) for e in value.errors)
        yield repr(dict(value.headers))
        if value.exception is not None:
            yield from seen_in(value.exception, depth + 1)


async def run_every_operation(client: af.AsyncClient, tmp_path: pathlib.Path) -> list[object]:
    """Runs each operation with callbacks; returns every value, error and result produced."""
    produced: list[object] = []
    calls: list[Any] = [
        lambda cb: client.files.create(b"data", "user_data", filename="a.txt", **cb),
        lambda cb: client.files.retrieve("file-abc", **cb),
        lambda cb: client.files.list(**cb),
        lambda cb: client.files.delete("file-abc", **cb),
        lambda cb: client.files.content("file-abc", **cb),
        lambda cb: client.files.download("file-abc", tmp_path / "copy.bin", **cb),
        lambda cb: client.files.wait_for_processing("file-abc", max_wait=1, **cb),
    ]
    callbacks = {n: produced.append for n in ("on_response", "on_error", "on_terminate")}

    async def iterate() -> list[af.OpenAIFile]:
        return [f async for f in client.files.iterate()]

    # At once, so that retries and their backoffs overlap.
    outcomes = await asyncio.gather(
        *(call(callbacks) for call in calls), iterate(), return_exceptions=True
    )
    for outcome in outcomes:
        assert not isinstance(outcome, BaseException) or isinstance(outcome, af.AIKitError)
    return produced + list(outcomes)


@pytest.mark.parametrize("provider", ["openai", "azure"])
@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_the_key_never_shows(
    echo: tuple[EchoServer, AppThread],
    tmp_path: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
    provider: str,
    scenario: str,
) -> None:
    server, running = echo
    server.scenario = scenario
    caplog.set_level(logging.DEBUG)
    base_url = running.url if provider == "azure" else running.url + "/v1"
    options = af.Timeout(5)
    async with af.AsyncClient(KEY, base_url=base_url, provider=provider, timeout=options) as client:
        produced = await run_every_operation(client, tmp_path)
        produced += [client, client.files]
    assert len(produced) > 8
    texts = [text for value in produced for text in seen_in(value)]
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append("".join(traceback.format_exception(*record.exc_info)))
    leaks = [text for text in texts if KEY in text]
    assert not leaks, leaks[0][:2000]


@pytest.mark.parametrize(
    "parameters_class",
    [af.Parameters, af.FileParameters, af.FileListParameters, af.DownloadParameters],
)
@pytest.mark.parametrize(
    "name",
    ["Authorization", "authorization", "Proxy-Authorization", "api-key", "X-Api-Key", "Cookie",
     "Ocp-Apim-Subscription-Key", "X-Upstream"],
)  # fmt: skip
def test_parameters_never_show_a_credential(
    parameters_class: type[af.Parameters], name: str
) -> None:
    value = f"Bearer {KEY}" if name == "X-Upstream" else KEY
    parameters = parameters_class(extra_headers={name: value, "X-Trace": "t-1"})
    assert KEY not in repr(parameters)
    assert KEY not in str(parameters)
    # What is not a credential still shows, for debugging.
    assert "'X-Trace': 't-1'" in repr(parameters)


async def test_the_scan_finds_a_key_where_there_is_one() -> None:
    # A guard against a scan that sees nothing: the key in a cause deep in a chain is found.
    error = af.APIError("outer")
    error.__cause__ = ValueError(KEY)
    assert any(KEY in text for text in seen_in(error))


@pytest.mark.parametrize("scenario", ["echoing 200", "echoing 200, \\u-escaped", "error body"])
@pytest.mark.parametrize(
    "argv",
    [
        ["get", "file-abc"],
        ["--json", "get", "file-abc"],
        ["list"],
        ["--json", "list", "--all"],
        ["delete", "file-abc"],
    ],
    ids=["get", "get --json", "list", "list --json --all", "delete"],
)
def test_the_command_line_never_prints_the_key(
    echo: tuple[EchoServer, AppThread],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scenario: str,
    argv: list[str],
) -> None:
    from aikit_files.cli import main

    server, running = echo
    server.scenario = scenario
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", running.url + "/v1")
    status = main(argv)
    captured = capsys.readouterr()
    assert KEY not in captured.out
    assert KEY not in captured.err
    # A guard: the command ran, and printed what the server sent, redacted.
    assert status == (1 if scenario == "error body" else 0), captured.err
    assert "[redacted]" in captured.out + captured.err
