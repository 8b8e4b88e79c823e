"""What handlers read and write: JSON bodies, forms streamed to disk, 100-continue, answers.

Answers are JSON models; a create's status and ``Location`` follow the route's flavour.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final

import attrs
from aiohttp import web

from aikit_files import _serde
from aikit_files._models import OpenAIFile

from ._disk import TempFile
from ._errors import ApiError, bad_request, timed_out, too_large
from ._flavours import AZURE, flavour_of
from ._multipart import FormReader, Part
from ._state import FLAVOUR, STATE
from ._storage import Store

#: Room for the form's framing (boundaries, part headers, text fields) beyond the file's bytes.
FORM_ALLOWANCE: Final = 64 * 1024

_CONTINUED: Final = web.RequestKey("continued", bool)


# --- 100 Continue ----------------------------------------------------------------------------


async def defer_continue(request: web.Request) -> web.StreamResponse | None:
    """Holds ``100 Continue`` back until a handler wants the body (``start_body``), so that a
    request refused on its headers alone is refused before the client sends the body.

    Any other expectation gets a 417, in the flavour's error body: aiohttp calls this before
    the middlewares, so it answers itself rather than raise.
    """
    if request.headers.get("Expect", "").lower() == "100-continue":
        return None
    error = ApiError(417, "Only 'Expect: 100-continue' is supported.")
    response = web.json_response(flavour_of(request.path).error_body(error), status=417)
    response.force_close()
    return response


def awaits_continue(request: web.Request) -> bool:
    """Whether the client waits for ``100 Continue`` before it sends the body, and has not had
    it yet."""
    expect = request.headers.get("Expect", "").lower() == "100-continue"
    return expect and not request.get(_CONTINUED, False)


async def start_body(request: web.Request) -> None:
    """Sends ``100 Continue`` if the client waits for it: the request passed every check that
    does not need the body, so the client may now send it."""
    if awaits_continue(request):
        request[_CONTINUED] = True
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")


# --- reading ---------------------------------------------------------------------------------


def check_declared_size(request: web.Request, limit: int) -> None:
    """Refuses a body whose declared length cannot be a form with a file within ``limit``.

    Raises:
        ApiError: 413.
    """
    declared = request.content_length
    if declared is not None and declared > limit + FORM_ALLOWANCE:
        raise too_large("The request body", limit + FORM_ALLOWANCE)


async def read_json(request: web.Request, fields: frozenset[str]) -> dict[str, Any]:
    """The request's JSON object, whose keys must be among ``fields``.

    Raises:
        ApiError: 400 when the body is not a JSON object or has an unknown key; 413 when it is
            larger than the application's ``client_max_size``; 408 when the client stalls.
    """
    limit = request.client_max_size
    if request.content_length is not None and request.content_length > limit:
        raise _body_too_large(limit)
    await start_body(request)
    idle_timeout = request.app[STATE].settings.idle_timeout
    raw = bytearray()
    while True:
        try:
            async with asyncio.timeout(idle_timeout):
                chunk = await request.content.readany()
        except TimeoutError:
            raise timed_out(idle_timeout) from None
        if not chunk:
            break
        raw += chunk
        if len(raw) > limit:
            raise _body_too_large(limit)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise bad_request("We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    for key in body:
        if key not in fields:
            raise bad_request(f"Unrecognized request argument supplied: {key}.", key)
    return body


def _body_too_large(limit: int) -> ApiError:
    return ApiError(413, f"The request body exceeds the maximum size of {limit} bytes.")


def required_text(body: Mapping[str, Any], name: str) -> str:
    """The non-empty string ``body[name]``.

    Raises:
        ApiError: 400 when it is missing, empty or not a string.
    """
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise bad_request(f"Missing required parameter: {name!r}.", name)
    return value


@attrs.frozen
class FileLimit:
    """The largest size a form's file may have, and the refusal of a larger one."""

    size: int
    refusal: ApiError

    @classmethod
    def tightest(cls, *limits: FileLimit) -> FileLimit:
        """The smallest of ``limits``."""
        return min(limits, key=lambda limit: limit.size)


@attrs.frozen
class Form:
    """A form read to its end by ``receive_form``."""

    fields: Mapping[str, str]
    """Its text fields."""
    file: Part
    """The part that carried the file."""
    content: TempFile
    """The file's bytes, received but not finished."""


@contextlib.asynccontextmanager
async def receive_form(
    request: web.Request,
    store: Store,
    *,
    declared_limit: int,
    file_field: str,
    text_fields: Mapping[str, Callable[[str], object]],
    accept_file: Callable[[Part, Mapping[str, str]], FileLimit],
) -> AsyncIterator[Form]:
    """Reads a ``multipart/form-data`` body of text fields and one file, streaming the file to
    a temporary file of ``store``, which is removed when the block exits unless it was moved
    into place meanwhile.

    Every check runs as soon as what it needs has arrived, so that a bad form is refused
    before its file is read, or as soon as the file passes its limit.

    Args:
        request: The request.
        store: Where the file is received.
        declared_limit: The largest file: a body declared longer than that and its form's
            framing is refused on its headers, before ``100 Continue``.
        file_field: The name of the field that carries the file.
        text_fields: The text fields accepted, each with the check of its value (which raises
            an ``ApiError``), run when the field arrives.
        accept_file: Called when the file's part begins, with the text fields read so far:
            refuses the file (raising an ``ApiError``) or returns the largest size it may have
            and the refusal of a larger one.

    Raises:
        ApiError: 413 when the body or the file is too large; 400 when the body is not a
            well-formed form, a field is unknown or given twice, or the file is missing.
    """
    check_declared_size(request, declared_limit)
    reader = FormReader.of(request, request.app[STATE].settings.idle_timeout)
    await start_body(request)
    async with store.receive() as content:
        fields: dict[str, str] = {}
        file: Part | None = None
        while (part := await reader.next_part()) is not None:
            name = part.name
            if name in fields or (name == file_field and file is not None):
                raise bad_request(f"The form field {name!r} is given twice.", name)
            if name == file_field:
                limit = accept_file(part, fields)
                file = part
                async for chunk in reader.chunks():
                    if content.size + len(chunk) > limit.size:
                        raise limit.refusal
                    await content.write(chunk)
            elif name in text_fields:
                fields[name] = value = await reader.text(name)
                text_fields[name](value)
            else:
                raise bad_request(f"Unrecognized request argument supplied: {name}.", name)
        if file is None:
            raise bad_request(f"Missing required parameter: {file_field!r}.", file_field)
        yield Form(fields, file, content)


# --- writing ---------------------------------------------------------------------------------


def json_response(
    request: web.Request,
    model: object,
    *,
    status: int = 200,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A JSON answer to ``request`` with ``model`` (and ``extra`` keys beyond the model's
    fields), in the words of the request's flavour: on Azure's routes a null is left out, as
    its spec types those fields (``bytes``, ``status_details``, ``file``...) non-nullable."""
    body = _serde.unstructure(model)
    if extra:
        body.update(extra)
    if not request[FLAVOUR].sends_null:
        body = without_nulls(body)
    response = web.json_response(body, status=status)
    if headers:
        response.headers.update(headers)
    return response


def without_nulls(value: Any) -> Any:
    """``value`` (JSON) with every object key whose value is null left out, at any depth."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def location(request: web.Request, path: str) -> dict[str, str]:
    """The ``Location`` header of an Azure create; no header on the OpenAI routes."""
    if request[FLAVOUR] is not AZURE:
        return {}
    return {"Location": f"{request.url.origin()}/openai/{path}"}


def created(request: web.Request, file: OpenAIFile) -> web.Response:
    """The answer to a file create: 200 (OpenAI) or 201 with a ``Location`` (Azure)."""
    return json_response(
        request,
        file,
        status=request[FLAVOUR].create_status,
        headers=location(request, f"files/{file.id}"),
    )
