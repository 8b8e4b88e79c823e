"""The errors the server answers with, and the two API flavours that shape their bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs

#: OpenAI's ``error.type`` for each status; anything else 4xx is an ``invalid_request_error``.
_OPENAI_TYPES: Final = {401: "invalid_request_error", 429: "rate_limit_error"}
#: Azure's ``error.code`` (its ``ErrorCode`` enum) for each status.
_AZURE_CODES: Final = {
    400: "invalidPayload",
    401: "unauthorized",
    403: "forbidden",
    404: "notFound",
    409: "conflict",
    413: "invalidPayload",
    429: "tooManyRequests",
}


class ApiError(Exception):
    """A request the server refuses; the middleware renders it in the route's flavour."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        azure_code: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.azure_code = azure_code


def bad_request(message: str, param: str | None = None) -> ApiError:
    """A 400 ``invalid_request_error`` about ``param``."""
    return ApiError(400, message, param=param)


def not_found(kind: str, object_id: str, param: str) -> ApiError:
    """A 404 for an object that does not exist (or never could: a malformed id)."""
    return ApiError(404, f"No such {kind} object: {object_id}", param=param)


def openai_error_body(error: ApiError) -> dict[str, Any]:
    """OpenAI's envelope: ``{"error": {"message", "type", "param", "code"}}``."""
    status = error.status
    kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {
        "error": {
            "message": error.message,
            "type": kind,
            "param": error.param,
            "code": error.code,
        }
    }


def azure_error_body(error: ApiError) -> dict[str, Any]:
    """Azure's envelope (Microsoft REST guidelines): ``{"error": {"code", "message", "target"}}``."""
    code = error.azure_code or _AZURE_CODES.get(
        error.status, "internalFailure" if error.status >= 500 else "invalidPayload"
    )
    body: dict[str, Any] = {"code": code, "message": error.message}
    if error.param is not None:
        body["target"] = error.param
    return {"error": body}


@attrs.frozen
class Flavour:
    """What differs between the OpenAI routes (``/v1``) and the Azure routes (``/openai``)."""

    name: str
    """``openai`` or ``azure``."""
    error_body: Callable[[ApiError], dict[str, Any]]
    """Renders an error in this flavour's envelope."""
    create_status: int
    """The status of a successful ``POST /files`` (and ``/files/import``)."""
    purposes: frozenset[str]
    """The purposes ``POST /files`` and ``POST /uploads`` accept."""
    lifecycle: bool
    """Whether new files go ``pending`` → ``running`` → ``processed``/``error`` (Azure) rather
    than being ``processed`` at once (OpenAI)."""
