"""Each flavour writes the one error-body model with its own keys, in its own order."""

from __future__ import annotations

import json

import pytest

from aikit_files.server._errors import ApiError, bad_request, not_found, too_large
from aikit_files.server._flavours import AZURE, OPENAI, flavour_of


def test_openai_sends_all_four_keys_null_or_not() -> None:
    body = OPENAI.error_body(bad_request("Bad purpose.", "purpose"))
    assert json.dumps(body) == (
        '{"error": {"message": "Bad purpose.", "type": "invalid_request_error", '
        '"param": "purpose", "code": null}}'
    )


def test_azure_sends_code_message_and_target_when_set() -> None:
    assert json.dumps(AZURE.error_body(bad_request("Bad purpose.", "purpose"))) == (
        '{"error": {"code": "invalidPayload", "message": "Bad purpose.", "target": "purpose"}}'
    )
    assert AZURE.error_body(bad_request("Bad body.")) == {
        "error": {"code": "invalidPayload", "message": "Bad body."}
    }


@pytest.mark.parametrize(
    ("error", "openai_type", "openai_code", "azure_code"),
    [
        (not_found("File", "file-x", "file_id"), "invalid_request_error", None, "notFound"),
        (too_large("The file", 10), "invalid_request_error", "file_too_large", "invalidPayload"),
        (
            ApiError(401, "No key.", code="missing_api_key"),
            "invalid_request_error",
            "missing_api_key",
            "unauthorized",
        ),
        (ApiError(429, "Slow down."), "rate_limit_error", None, "tooManyRequests"),
        (ApiError(500, "Oops."), "server_error", None, "internalFailure"),
        (ApiError(418, "Teapot."), "invalid_request_error", None, "invalidPayload"),
        (ApiError(409, "Busy.", azure_code="fileBusy"), "invalid_request_error", None, "fileBusy"),
    ],
)
def test_type_and_code_by_status(
    error: ApiError, openai_type: str, openai_code: str | None, azure_code: str
) -> None:
    openai = OPENAI.error_body(error)["error"]
    assert list(openai) == ["message", "type", "param", "code"]
    assert (openai["type"], openai["code"]) == (openai_type, openai_code)
    azure = AZURE.error_body(error)["error"]
    assert azure["code"] == azure_code
    assert list(azure) == ["code", "message", "target"][: len(azure)]


def test_flavour_by_path_prefix() -> None:
    assert flavour_of("/openai/files") is AZURE
    assert flavour_of("/v1/files") is OPENAI
    assert flavour_of("/openai") is OPENAI
    assert flavour_of("/etc/passwd") is OPENAI
