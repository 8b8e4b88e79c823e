"""The transport: any body (form, JSON, none) sent with the same retries, and each reply with
the headers of its own response."""

from __future__ import annotations

import hashlib
import json

import pytest
from faults import FILE, FaultServer, client_options, respond

import aikit_files as af
from aikit_files._config import ClientConfig
from aikit_files._io.sinks import json_sink
from aikit_files._protocol.multipart import DEFAULT_CONTENT_TYPE, build_form
from aikit_files._protocol.requests import Endpoint, FormBody, JsonBody
from aikit_files._protocol.sources import describe_source
from aikit_files._transport import Transport
from aikit_files.server import ServerThread
from aikit_files.testing import FaultProxy, Respond, Rule

pytestmark = pytest.mark.anyio

UPLOAD = {"id": "upload_1", "object": "upload", "bytes": 10, "filename": "a.txt"}


def transport_of(base_url: str, key: str, max_retries: int = 2) -> tuple[Transport, Endpoint]:
    config = ClientConfig.resolve(key, base_url=base_url, max_retries=max_retries, environ={})
    return Transport(config), Endpoint(config)


async def test_a_json_body_reaches_the_server(local_server: ServerThread) -> None:
    transport, endpoint = transport_of(local_server.openai_base_url, local_server.api_key or "")
    try:
        spec = endpoint.create_upload(
            filename="big.jsonl", purpose="fine-tune", size=10, mime_type="text/jsonl"
        )
        reply = await transport.send(spec, af.Parameters(), json_sink(af.Upload))
    finally:
        await transport.aclose()
    assert (reply.value.filename, reply.value.bytes, reply.value.status) == (
        "big.jsonl",
        10,
        "pending",
    )
    assert reply.headers["x-request-id"].startswith("req_")


def part_form(data: bytes) -> FormBody:
    """The form of an Upload Part: its bytes as the ``data`` field."""
    form = build_form([], file_field="data", filename="part", content_type=DEFAULT_CONTENT_TYPE)
    return FormBody(form, describe_source(data))


async def test_a_json_body_is_sent_again_whole_on_a_retry(
    local_server: ServerThread, proxy: FaultProxy, client: af.AsyncClient
) -> None:
    transport, endpoint = transport_of(proxy.url + "/v1", local_server.api_key or "")
    parts = [b"hello", b"world"]
    try:
        upload = await transport.send(
            endpoint.create_upload(
                filename="hw.txt", purpose="assistants", size=10, mime_type="text/plain"
            ),
            af.Parameters(),
            json_sink(af.Upload),
        )
        part_ids = [
            (
                await transport.send(
                    endpoint.add_upload_part(upload.value.id, part_form(data)),
                    af.Parameters(),
                    json_sink(af.UploadPart),
                )
            ).value.id
            for data in parts
        ]
        proxy.add_rule(Rule(Respond(503, retry_after_ms=10), path="/v1/uploads/", ordinal=1))
        spec = endpoint.complete_upload(
            upload.value.id, part_ids, md5=hashlib.md5(b"helloworld").hexdigest()
        )
        reply = await transport.send(spec, af.Parameters(), json_sink(af.Upload))
    finally:
        await transport.aclose()
    assert reply.value.status == "completed"
    assert reply.value.file is not None
    assert await client.files.content(reply.value.file.id) == b"helloworld"
    # Both attempts sent the whole document; the second was taken (the server checks the
    # part ids and the MD5).
    assert isinstance(spec.body, JsonBody)
    completes = proxy.exchanges[-2:]
    assert [(e.path, e.status) for e in completes] == [
        (f"/v1/uploads/{upload.value.id}/complete", 503),
        (f"/v1/uploads/{upload.value.id}/complete", 200),
    ]
    assert [e.request_bytes for e in completes] == [len(spec.body.data)] * 2
    assert json.loads(spec.body.data) == {
        "part_ids": part_ids,
        "md5": hashlib.md5(b"helloworld").hexdigest(),
    }
    assert spec.body.content_type == "application/json"


async def test_a_json_body_goes_as_json(fault_server: FaultServer) -> None:
    fault_server.script(respond(200, UPLOAD))
    transport, endpoint = transport_of(fault_server.openai_base_url, "sk-x")
    try:
        spec = endpoint.complete_upload("upload_1", ["part_a", "part_b"], md5="0" * 32)
        await transport.send(spec, af.Parameters(), json_sink(af.Upload))
    finally:
        await transport.aclose()
    (request,) = fault_server.requests
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Content-Length"] == str(request.size)
    assert json.loads(request.body) == {"part_ids": ["part_a", "part_b"], "md5": "0" * 32}


async def test_a_request_without_body_sends_none(
    local_server: ServerThread, proxy: FaultProxy
) -> None:
    transport, endpoint = transport_of(proxy.url + "/v1", local_server.api_key or "")
    try:
        upload = await transport.send(
            endpoint.create_upload(
                filename="a.txt", purpose="assistants", size=10, mime_type="text/plain"
            ),
            af.Parameters(),
            json_sink(af.Upload),
        )
        cancelled = await transport.send(
            endpoint.cancel_upload(upload.value.id), af.Parameters(), json_sink(af.Upload)
        )
    finally:
        await transport.aclose()
    assert cancelled.value.status == "cancelled"
    cancel = proxy.exchanges[-1]
    assert (cancel.method, cancel.path, cancel.request_bytes) == (
        "POST",
        f"/v1/uploads/{upload.value.id}/cancel",
        0,
    )


async def test_the_result_carries_the_headers_of_its_own_reply(fault_server: FaultServer) -> None:
    # A retried call: the result's request id is the answer's, not the failed attempt's.
    fault_server.script(
        respond(500, {"error": {"message": "oops"}}, headers={"x-request-id": "req_failed"}),
        respond(200, FILE, headers={"x-request-id": "req_good", "x-ratelimit-limit-requests": "9"}),
    )
    responses: list[af.Result] = []
    results: list[af.Result] = []
    async with af.AsyncClient(**client_options(fault_server)) as client:
        file = await client.files.retrieve(
            "file-abc", on_response=responses.append, on_terminate=results.append
        )
    assert file.id == FILE["id"]
    assert len(fault_server.requests) == 2
    (result,) = results
    assert responses == [result]
    assert result.success
    assert isinstance(result, af.FileResult)
    assert result.request_id == "req_good"
    assert result.rate_limit is not None
    assert result.rate_limit.limit_requests == 9
    assert result.file == file
