"""Every operation under every fault, with default settings, through a ``FaultProxy`` in front
of the real local server: a fault on the first attempt is survived (byte-identical content, one
file per create); a fault on every attempt ends in the right typed error after the retries.
Either way each callback fires exactly once and nothing is left behind."""

from __future__ import annotations

import asyncio
import hashlib
import io
import pathlib
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest

import aikit_files as af
from aikit_files.server import ServerThread
from aikit_files.testing import (
    Delay,
    Fault,
    FaultProxy,
    LoseResponse,
    Reset,
    Respond,
    Rule,
    Stall,
    Truncate,
)
from reliability.conftest import Held

pytestmark = pytest.mark.anyio

CONTENT = hashlib.sha256(b"seed").digest() * 40_000  # 1.25 MiB: several chunks, several writes


@attrs.frozen
class Fixture:
    """What an operation works on: a file on the server, a file on disk, a folder."""

    file_id: str
    source: pathlib.Path
    folder: pathlib.Path


Run = Callable[[af.AsyncClient, Fixture, dict[str, Any]], Awaitable[object]]


@attrs.frozen
class Operation:
    """One operation of the Files API, the request it makes, and how to check its value."""

    method: str
    path: str
    """The path prefix of its request, below ``/v1``."""
    run: Run
    """Starts the operation with the given callbacks."""
    check: Callable[[object, Fixture], None]
    creates: bool = False


def is_content(value: object, fixture: Fixture) -> None:
    assert value == CONTENT


def is_the_file(value: object, fixture: Fixture) -> None:
    assert isinstance(value, af.OpenAIFile)
    assert value.id == fixture.file_id


def is_new_upload(value: object, fixture: Fixture) -> None:
    assert isinstance(value, af.OpenAIFile)
    assert value.bytes == len(CONTENT)


def is_download(value: object, fixture: Fixture) -> None:
    assert isinstance(value, pathlib.Path)
    assert value.read_bytes() == CONTENT


def is_page(value: object, fixture: Fixture) -> None:
    assert isinstance(value, af.FileList)
    assert fixture.file_id in [f.id for f in value.data]


def is_deleted(value: object, fixture: Fixture) -> None:
    assert value == af.FileDeleted(id=fixture.file_id, deleted=True)


OPERATIONS = {
    "create a path": Operation(
        "POST",
        "/files",
        lambda c, f, cb: c.files.create(f.source, "user_data", **cb),
        is_new_upload,
        creates=True,
    ),
    "create a blob": Operation(
        "POST",
        "/files",
        lambda c, f, cb: c.files.create(CONTENT, "user_data", filename="blob.bin", **cb),
        is_new_upload,
        creates=True,
    ),
    "create a file object": Operation(
        "POST",
        "/files",
        lambda c, f, cb: c.files.create(
            io.BytesIO(CONTENT), "user_data", filename="object.bin", **cb
        ),
        is_new_upload,
        creates=True,
    ),
    "retrieve": Operation(
        "GET", "/files/file-", lambda c, f, cb: c.files.retrieve(f.file_id, **cb), is_the_file
    ),
    "list": Operation("GET", "/files?", lambda c, f, cb: c.files.list(limit=50, **cb), is_page),
    "content": Operation(
        "GET", "/files/file-", lambda c, f, cb: c.files.content(f.file_id, **cb), is_content
    ),
    "download": Operation(
        "GET",
        "/files/file-",
        lambda c, f, cb: c.files.download(f.file_id, f.folder / "copy.bin", **cb),
        is_download,
    ),
    "wait_for_processing": Operation(
        "GET",
        "/files/file-",
        lambda c, f, cb: c.files.wait_for_processing(f.file_id, **cb),
        is_the_file,
    ),
    "delete": Operation(
        "DELETE", "/files/", lambda c, f, cb: c.files.delete(f.file_id, **cb), is_deleted
    ),
}

#: Faults a call survives when they hit its first attempt.
ONCE: dict[str, Fault] = {
    "reset": Reset(after_bytes=100),
    "429": Respond(429, retry_after_ms=20),
    "500": Respond(500, retry_after=0),
    "502": Respond(502, retry_after_ms=10),
    "503": Respond(503, retry_after="0.05"),
    "delay": Delay(0.2),
    "stalled body": Stall(after_bytes=10, seconds=0.3),
    "truncated": Truncate(after_bytes=10),
    "lost response": LoseResponse(),
}

#: Faults on every attempt, and the error each ends in.
ALWAYS: dict[str, tuple[Fault, type[af.AIKitError]]] = {
    "reset": (Reset(after_bytes=100), af.APIConnectionError),
    "429": (Respond(429, retry_after_ms=10), af.RateLimitError),
    "500": (Respond(500, retry_after_ms=10), af.InternalServerError),
    "502": (Respond(502, retry_after="0"), af.InternalServerError),
    "truncated": (Truncate(after_bytes=10), af.APIConnectionError),
    "lost response": (LoseResponse(), af.APIConnectionError),
}


async def prepare(server: ServerThread, tmp_path: pathlib.Path) -> Fixture:
    source = tmp_path / "upload.bin"
    source.write_bytes(CONTENT)
    folder = tmp_path / "downloads"
    folder.mkdir()
    async with af.AsyncClient(server.api_key, base_url=server.openai_base_url) as direct:
        made = await direct.files.create(CONTENT, "user_data", filename="there.bin")
    return Fixture(made.id, source, folder)


async def stored(server: ServerThread) -> dict[str, bytes]:
    """Every file the server holds, by id, with its content."""
    async with af.AsyncClient(server.api_key, base_url=server.openai_base_url) as direct:
        return {f.id: await direct.files.content(f.id) async for f in direct.files.iterate()}


async def call_through(
    proxy: FaultProxy, server: ServerThread, fixture: Fixture, operation: Operation
) -> tuple[object, list[af.Result]]:
    """Runs ``operation`` through the proxy with all three callbacks; returns what awaiting it
    gave (its value, or the error it raised) and what the callbacks received, in order."""
    received: list[tuple[str, af.Result]] = []
    callbacks = {
        name: (lambda result, name=name: received.append((name, result)))
        for name in ("on_response", "on_error", "on_terminate")
    }
    async with af.AsyncClient(server.api_key, base_url=proxy.url + "/v1") as client:
        try:
            outcome: object = await operation.run(client, fixture, callbacks)
        except af.AIKitError as error:
            outcome = error
    # Leaving the block waited for the callbacks.
    first = "on_error" if isinstance(outcome, BaseException) else "on_response"
    assert [name for name, _ in received] == [first, "on_terminate"]
    assert received[0][1] is received[1][1]
    return outcome, [result for _, result in received[:1]]


async def held_after(proxy: FaultProxy, fixture: Fixture, tmp_path: pathlib.Path) -> Held:
    await asyncio.sleep(0.05)  # let closed connections and finished threads settle
    assert not list((tmp_path / "data" / "tmp").iterdir()), "the server kept a partial upload"
    return Held.now(proxy, tmp_path)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("fault", ONCE)
async def test_a_fault_on_the_first_attempt_is_survived(
    local_server: ServerThread,
    proxy: FaultProxy,
    tmp_path: pathlib.Path,
    fault: str,
    operation: str,
) -> None:
    op = OPERATIONS[operation]
    fixture = await prepare(local_server, tmp_path)
    before = await stored(local_server)
    held = Held.now(proxy, tmp_path)
    proxy.add_rule(Rule(ONCE[fault], method=op.method, path="/v1" + op.path, ordinal=1))

    value, (result,) = await call_through(proxy, local_server, fixture, op)

    assert not isinstance(value, BaseException), value
    op.check(value, fixture)
    assert result.success
    assert any(e.fault is not None for e in proxy.exchanges), "the fault never applied"
    assert await held_after(proxy, fixture, tmp_path) == held
    after = await stored(local_server)
    if op.creates:
        made = {i: c for i, c in after.items() if i not in before}
        assert list(made.values()) == [CONTENT], f"{len(made)} files for one create"


#: Faults after which the server has done the work: a create or a delete looks before it sends
#: again, finds its work done, and returns it.
HANDLED = {"truncated", "lost response"}


@pytest.mark.parametrize("fault", ALWAYS)
async def test_a_fault_on_every_attempt_ends_in_its_typed_error(
    local_server: ServerThread, tmp_path: pathlib.Path, fault: str
) -> None:
    # Each operation goes through a proxy of its own, which applies the fault to every attempt
    # of its request (and lets the lookups a create or a delete makes pass); the operations run
    # at once, so that their backoffs overlap.
    kind, expected = ALWAYS[fault]
    fixtures = {name: await prepare_named(local_server, tmp_path, name) for name in OPERATIONS}
    before = await stored(local_server)
    proxies = {
        name: FaultProxy(local_server.url, [Rule(kind, method=op.method, path="/v1" + op.path)])
        for name, op in OPERATIONS.items()
    }
    try:
        for running in proxies.values():
            running.start()
        held = {name: Held.now(proxies[name], tmp_path) for name in OPERATIONS}
        outcomes = await asyncio.gather(
            *(
                call_through(proxies[name], local_server, fixtures[name], op)
                for name, op in OPERATIONS.items()
            )
        )
        for (name, op), (outcome, (result,)) in zip(OPERATIONS.items(), outcomes, strict=True):
            survives = fault in HANDLED and (op.creates or op.method == "DELETE")
            if survives:
                op.check(outcome, fixtures[name])
                assert result.success
            else:
                assert isinstance(outcome, expected), (name, outcome)
                assert not result.success
                assert result.errors[0].message
            assert await held_after(proxies[name], fixtures[name], tmp_path) == held[name]
    finally:
        for running in proxies.values():
            running.close()
    made = {i: c for i, c in (await stored(local_server)).items() if i not in before}
    creates = sum(op.creates for op in OPERATIONS.values())
    assert list(made.values()) == [CONTENT] * (creates if fault in HANDLED else 0)


async def prepare_named(server: ServerThread, tmp_path: pathlib.Path, name: str) -> Fixture:
    folder = tmp_path / name.replace(" ", "_")
    folder.mkdir()
    return await prepare(server, folder)
