"""Reading responses: errors from OpenAI, Azure and other bodies; models; pagination; pure."""

from __future__ import annotations

import json

import pytest

import aikit_files as af
from aikit_files._protocol.responses import parse_model, request_id, status_error


def test_openai_error_body() -> None:
    body = {
        "error": {
            "message": "No such File object: file-x",
            "type": "invalid_request_error",
            "param": "id",
            "code": None,
        }
    }
    error = status_error(404, {"x-request-id": "req_1"}, json.dumps(body).encode())
    assert type(error) is af.NotFoundError
    assert error.status_code == 404
    assert error.message == "No such File object: file-x"
    assert (error.type, error.param, error.code) == ("invalid_request_error", "id", None)
    assert error.request_id == "req_1"
    assert error.body == body["error"]
    assert str(error) == "Error code: 404 - No such File object: file-x"


def test_azure_error_body() -> None:
    body = {"error": {"code": "404", "message": "File not found."}}
    error = status_error(404, {"apim-request-id": "az-1"}, json.dumps(body).encode())
    assert (error.code, error.message, error.request_id) == ("404", "File not found.", "az-1")


def test_gateway_error_body() -> None:
    error = status_error(401, {}, b'{"statusCode": 401, "message": "Access denied"}')
    assert type(error) is af.AuthenticationError
    assert error.message == "Access denied"


def test_error_string() -> None:
    error = status_error(400, {}, b'{"error": "bad purpose"}')
    assert error.message == "bad purpose"


def test_non_json_error_body() -> None:
    error = status_error(502, {}, b"<html>Bad Gateway</html>", "Bad Gateway")
    assert type(error) is af.InternalServerError
    assert error.message == "<html>Bad Gateway</html>"
    assert error.body == "<html>Bad Gateway</html>"


def test_empty_error_body_uses_the_reason() -> None:
    assert status_error(503, {}, b"", "Service Unavailable").message == "Service Unavailable"
    assert status_error(418, {}, b"").message == "HTTP 418"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, af.BadRequestError),
        (401, af.AuthenticationError),
        (403, af.PermissionDeniedError),
        (404, af.NotFoundError),
        (409, af.ConflictError),
        (413, af.RequestTooLargeError),
        (422, af.UnprocessableEntityError),
        (429, af.RateLimitError),
        (500, af.InternalServerError),
        (503, af.InternalServerError),
        (418, af.APIStatusError),
    ],
)
def test_status_classes(status: int, cls: type[af.APIStatusError]) -> None:
    assert type(status_error(status, {}, b"{}")) is cls


def test_request_id_any_case() -> None:
    assert request_id({"X-Request-Id": "req_9"}) == "req_9"
    assert request_id({}) is None


def test_model_tolerates_unknown_fields_and_values() -> None:
    body = json.dumps(
        {"id": "file-1", "purpose": "brand-new", "status": "running", "shiny": True}
    ).encode()
    file = parse_model(body, af.OpenAIFile, {})
    assert (file.id, file.purpose, file.status) == ("file-1", "brand-new", "running")


def test_model_from_non_json() -> None:
    with pytest.raises(af.APIError, match="not JSON") as caught:
        parse_model(b"<html>", af.OpenAIFile, {"x-request-id": "req_2"})
    assert caught.value.request_id == "req_2"
    assert not isinstance(caught.value, af.APIStatusError)


def test_model_of_the_wrong_shape() -> None:
    with pytest.raises(af.APIError, match="not the expected OpenAIFile"):
        parse_model(b'{"object": "list"}', af.OpenAIFile, {})


@pytest.mark.parametrize(
    ("body", "cls"),
    [
        ({"id": "file-1", "filename": None}, af.OpenAIFile),
        ({"id": "file-1", "bytes": 1.7}, af.OpenAIFile),
        ({"id": "file-1", "bytes": True}, af.OpenAIFile),
        ({"id": 12}, af.OpenAIFile),
        ({"data": [], "has_more": "false"}, af.FileList),
        ({"id": "file-1", "deleted": 1}, af.FileDeleted),
    ],
)
def test_scalars_of_the_wrong_type_are_not_converted(body: object, cls: type) -> None:
    with pytest.raises(af.APIError, match="not the expected"):
        parse_model(json.dumps(body).encode(), cls, {})


def test_azure_target_is_the_param() -> None:
    body = {"error": {"code": "invalidPayload", "message": "Bad purpose.", "target": "purpose"}}
    error = status_error(400, {}, json.dumps(body).encode())
    assert (error.code, error.param) == ("invalidPayload", "purpose")
