"""What the handlers share: the server's state, and request/response helpers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import attrs
from aiohttp import web

from aikit_files import _serde

from ._errors import bad_request, too_large
from ._flavours import AZURE, Flavour
from ._multipart import FormReader
from ._rules import Settings, expires_at
from ._storage import FileRecord, Store, TempFile

if TYPE_CHECKING:
    from ._azure import Processor
    from ._uploads import Uploads

#: Room for the form's framing (boundaries, part headers, text fields) beyond the file's bytes.
FORM_ALLOWANCE: Final = 64 * 1024


@attrs.define
class ServerState:
    """Everything the handlers share."""

    settings: Settings
    store: Store
    uploads: Uploads
    processor: Processor


STATE: Final = web.AppKey("state", ServerState)
FLAVOUR: Final = web.RequestKey("flavour", Flavour)
_CONTINUED: Final = web.RequestKey("continued", bool)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(
    model: object, *, status: int = 200, extra: dict[str, Any] | None = None
) -> web.Response:
    """A JSON answer with ``model`` (and ``extra`` keys beyond the model's fields)."""
    body = _serde.unstructure(model)
    if extra:
        body.update(extra)
    return web.json_response(body, status=status)


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
            larger than the application's ``client_max_size``.
    """
    await start_body(request)
    raw = await request.read()
    try:
        body = json.loads(raw)
    except ValueError:
        raise bad_request("We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    for key in body:
        if key not in fields:
            raise bad_request(f"Unrecognized request argument supplied: {key}.", key)
    return body


async def receive_part(form: FormReader, content: TempFile, limit: int) -> None:
    """Streams the current part of ``form`` into ``content``, counting its bytes.

    Raises:
        ApiError: 413 as soon as the part passes ``limit`` bytes; 400 for a malformed body.
    """
    async for chunk in form.chunks():
        if content.size + len(chunk) > limit:
            raise too_large("The file", limit)
        await content.write(chunk)


def new_record(
    request: web.Request,
    filename: str,
    purpose: str,
    size: int | None,
    expires_after: int | None,
) -> FileRecord:
    """The record of a file accepted now: processed at once (OpenAI) or in a while (Azure)."""
    state = request.app[STATE]
    now = state.settings.clock()
    created_at = int(now)
    lifecycle = request[FLAVOUR].lifecycle
    return FileRecord(
        id=state.store.new_record_id(created_at),
        filename=filename,
        purpose=purpose,
        created_at=created_at,
        bytes=size,
        expires_at=expires_at(created_at, purpose, expires_after),
        outcome=None if lifecycle else "processed",
        accepted_at=now,
        processing_delay=state.settings.processing_delay if lifecycle else 0.0,
    )


async def add_file(request: web.Request, record: FileRecord, content: TempFile | None) -> None:
    """Stores a new file; on the Azure routes its processing starts (unless it awaits an
    import, which starts it once fetched)."""
    state = request.app[STATE]
    await state.store.add(record, content)
    if request[FLAVOUR].lifecycle and content is not None:
        state.processor.process(record)


def location(request: web.Request, path: str) -> dict[str, str]:
    """The ``Location`` header of an Azure create; no header on the OpenAI routes."""
    if request[FLAVOUR] is not AZURE:
        return {}
    return {"Location": f"{request.url.origin()}/openai/{path}"}


def created(request: web.Request, record: FileRecord) -> web.StreamResponse:
    """The answer to a file create: 200 (OpenAI) or 201 with a ``Location`` (Azure)."""
    response = json_response(
        record.file(request.app[STATE].settings.clock()), status=request[FLAVOUR].create_status
    )
    response.headers.update(location(request, f"files/{record.id}"))
    return response
