"""The two flavours of the API (OpenAI under ``/v1``, Azure under ``/openai``), their error bodies.

Both flavours write one wire model, ``ErrorBody(ErrorDetail(...))``, the one the client reads;
each sends its own keys of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs

from aikit_files import _serde
from aikit_files._limits import KNOWN_PURPOSES
from aikit_files._models import ErrorBody, ErrorDetail

from ._errors import ApiError

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


def _openai_detail(error: ApiError) -> ErrorDetail:
    status = error.status
    kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return ErrorDetail(message=error.message, type=kind, param=error.param, code=error.code)


def _azure_detail(error: ApiError) -> ErrorDetail:
    code = error.azure_code or _AZURE_CODES.get(
        error.status, "internalFailure" if error.status >= 500 else "invalidPayload"
    )
    return ErrorDetail(message=error.message, code=code, target=error.param)


@attrs.frozen
class Flavour:
    """What differs between the OpenAI routes (``/v1``) and the Azure routes (``/openai``)."""

    name: str
    """``openai`` or ``azure``."""
    create_status: int
    """The status of a successful ``POST /files`` (and ``/files/import``)."""
    purposes: frozenset[str]
    """The purposes ``POST /files`` and ``POST /uploads`` accept."""
    lifecycle: bool
    """Whether new files go ``pending`` → ``running`` → ``processed``/``error`` (Azure) rather
    than being ``processed`` at once (OpenAI)."""
    error_detail: Callable[[ApiError], ErrorDetail]
    """An error in this flavour's words."""
    error_keys: tuple[str, ...]
    """The keys of the ``error`` object this flavour sends, in this order."""
    sends_null: bool
    """Whether a key whose value is null is sent (OpenAI) or left out (Azure)."""

    def error_body(self, error: ApiError) -> dict[str, Any]:
        """The body of an answer that refuses a request with ``error``."""
        body: dict[str, Any] = _serde.unstructure(ErrorBody(self.error_detail(error)))
        detail = body["error"]
        body["error"] = {
            key: detail[key]
            for key in self.error_keys
            if self.sends_null or detail[key] is not None
        }
        return body


OPENAI: Final = Flavour(
    name="openai",
    create_status=200,
    purposes=frozenset(KNOWN_PURPOSES),
    lifecycle=False,
    error_detail=_openai_detail,
    # NOTE: every key, even when null, as OpenAI does; clients read ``param`` and ``code``.
    error_keys=("message", "type", "param", "code"),
    sends_null=True,
)
#: Azure's spec adds result purposes to the upload enum; we accept OpenAI's too, as newer
#: Azure API versions do. Its envelope follows the Microsoft REST guidelines: ``target`` only
#: when there is one.
AZURE: Final = Flavour(
    name="azure",
    create_status=201,
    purposes=frozenset(KNOWN_PURPOSES) | {"fine-tune-results", "assistants_output"},
    lifecycle=True,
    error_detail=_azure_detail,
    error_keys=("code", "message", "target"),
    sends_null=False,
)


def flavour_of(path: str) -> Flavour:
    """The flavour of the route ``path`` addresses, by its prefix (OpenAI's outside the API)."""
    return AZURE if path.startswith("/openai/") else OPENAI
