"""The transport: any body (form, JSON, none) sent with the same retries, and each reply with
the headers of its own response."""

from __future__ import annotations

import json

import pytest
from faults import FILE, FaultServer, client_options, respond

import aikit_files as af
from aikit_files._config import ClientConfig
from aikit_files._io.sinks import json_sink
from aikit_files._protocol.requests import Endpoint
from aikit_files._transport import Transport
from aikit_files.server import ServerThread

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


async def test_a_json_body_is_sent_again_whole_on_a_retry(fault_server: FaultServer) -> None:
    fault_server.script(respond(503, {"error": {"message": "busy"}}), respond(200, UPLOAD))
    transport, endpoint = transport_of(fault_server.openai_base_url, "sk-x", max_retries=1)
    try:
        spec = endpoint.complete_upload("upload_1", ["part_a", "part_b"], md5="0" * 32)
        reply = await transport.send(spec, af.Parameters(), json_sink(af.Upload))
    finally:
        await transport.aclose()
    assert reply.value.id == "upload_1"
    bodies = [json.loads(r.body) for r in fault_server.requests]
    assert bodies == [{"part_ids": ["part_a", "part_b"], "md5": "0" * 32}] * 2
    assert {r.headers["Content-Type"] for r in fault_server.requests} == {"application/json"}


async def test_a_request_without_body_sends_none(fault_server: FaultServer) -> None:
    fault_server.script(respond(200, UPLOAD))
    transport, endpoint = transport_of(fault_server.openai_base_url, "sk-x")
    try:
        await transport.send(
            endpoint.cancel_upload("upload_1"), af.Parameters(), json_sink(af.Upload)
        )
    finally:
        await transport.aclose()
    (request,) = fault_server.requests
    assert (request.method, request.path, request.size) == (
        "POST",
        "/v1/uploads/upload_1/cancel",
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
