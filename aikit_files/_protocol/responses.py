"""Reading responses: models from JSON bodies, ``APIStatusError`` from error bodies, request ids,
and ``Reply``, a value with the headers of the response it came from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import attrs

from aikit_files._exceptions import APIError, APIStatusError, status_error_class
from aikit_files._models import ErrorDetail
from aikit_files._serde import describe_error, structure

T = TypeVar("T")

#: How much of an unreadable error body goes into the message.
_TEXT_IN_MESSAGE = 500


@attrs.frozen
class Reply(Generic[T]):
    """What one request brought back: the value read from its response, and that response's
    headers (request id, rate limits). The operation decides which reply fills its result."""

    value: T
    headers: Mapping[str, str] = attrs.field(repr=False)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever the case of its name in ``headers``."""
    value = headers.get(name)
    if value is not None:
        return value
    name = name.lower()
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def request_id(headers: Mapping[str, str]) -> str | None:
    """The server's id of the request: ``x-request-id``, or Azure's ``apim-request-id``."""
    return header(headers, "x-request-id") or header(headers, "apim-request-id")


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def error_detail(decoded: object) -> ErrorDetail | None:
    """Reads the error object of a decoded error body, leniently, into the shared wire model.

    Takes OpenAI's ``{"error": {"message", "type", "param", "code"}}``, Azure's
    ``{"error": {"code", "message", "target"}}``, ``{"error": "text"}`` and a bare
    ``{"message": ...}`` (as gateways send); scalars of another type become text. None when the
    body is no JSON object.
    """
    if not isinstance(decoded, dict):
        return None
    error = decoded.get("error")
    if isinstance(error, str):
        return ErrorDetail(message=error)
    info: Mapping[str, Any] = error if isinstance(error, dict) else decoded
    message = info.get("message")
    return ErrorDetail(
        message=message if isinstance(message, str) else "",
        type=_text(info.get("type")),
        param=_text(info.get("param")),
        code=_text(info.get("code")),
        target=_text(info.get("target")),
    )


def status_error(
    status: int, headers: Mapping[str, str], body: bytes, reason: str | None = None
) -> APIStatusError:
    """Builds the error for a 4xx or 5xx response.

    The body is read by ``error_detail``; when it holds no message, its text (cut short) becomes
    the message, or else the reason phrase.

    Args:
        status: the HTTP status.
        headers: the response's headers.
        body: the response's body (possibly cut short by the caller).
        reason: the HTTP reason phrase, for a message when the body has none.
    """
    decoded = _decode(body)
    text = body.decode("utf-8", "replace").strip()
    detail = error_detail(decoded)
    error_body: object = decoded if decoded is not None else (text or None)
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
        error_body = decoded["error"]
    if detail is None:
        detail = ErrorDetail(message="")
    return status_error_class(status)(
        detail.message or text[:_TEXT_IN_MESSAGE] or reason or f"HTTP {status}",
        status_code=status,
        headers=headers,
        body=error_body,
        code=detail.code,
        type=detail.type,
        param=detail.param if detail.param is not None else detail.target,
        request_id=request_id(headers),
    )


def redirect_error(status: int, headers: Mapping[str, str]) -> APIStatusError:
    """The error for a 3xx response, which the client never follows."""
    return status_error_class(status)(
        f"the server redirected to {header(headers, 'location')!r}; redirects are not followed, "
        "since every request carries the API key",
        status_code=status,
        headers=headers,
        request_id=request_id(headers),
    )


def parse_model(body: bytes | bytearray, cls: type[T], headers: Mapping[str, str]) -> T:
    """Builds a model from a successful response's JSON body.

    Raises:
        APIError: the body is not JSON, or not the expected object. The message says why; the
            parser's own error is neither chained nor kept as context (it holds the body).
    """
    failure: APIError
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        failure = APIError(
            f"the server's response is not JSON ({reason}): {bytes(body[:100])!r}",
            body=body.decode("utf-8", "replace")[:_TEXT_IN_MESSAGE],
            request_id=request_id(headers),
        )
    else:
        try:
            return structure(data, cls)
        except Exception as exc:
            # NOTE: cattrs reports a mismatch as one of several exception types (a validation
            # group, TypeError, ValueError...); any of them means the same thing here.
            failure = APIError(
                f"the server's response is not the expected {cls.__name__} object: "
                + "; ".join(describe_error(exc)),
                body=data,
                request_id=request_id(headers),
            )
    # NOTE: raised out of the except blocks, so that the parser's error is not its context.
    raise failure
