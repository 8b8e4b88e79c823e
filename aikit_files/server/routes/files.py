"""The ``/files`` routes: create (a streamed form), list, retrieve, delete, content."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from aiohttp import web

from aikit_files.server._errors import bad_request, too_large
from aikit_files.server._flavours import AZURE, Flavour
from aikit_files.server._http import FileLimit, created, json_response, receive_form
from aikit_files.server._multipart import Part
from aikit_files.server._rules import (
    Settings,
    check_expires_after_text,
    check_expires_anchor,
    check_expires_seconds,
    check_file,
    check_limit,
    check_order,
    check_purpose,
    expires_after_seconds,
)
from aikit_files.server._state import FLAVOUR, STATE
from aikit_files.server._storage import Store

#: The purposes Azure's listing filters by: those of uploads, and of the results it makes.
_AZURE_LISTED: Final = AZURE.purposes | {"batch_output"}


async def create_file(request: web.Request) -> web.StreamResponse:
    """``POST /files``: a multipart form (``file``, ``purpose``, ``expires_after[...]``)."""
    flavour = request[FLAVOUR]
    state = request.app[STATE]
    settings = state.settings
    async with receive_form(
        request,
        state.store,
        declared_limit=settings.file_limit,
        file_field="file",
        text_fields=_text_fields(flavour),
        accept_file=lambda part, fields: _accept_file(settings, state.store, part, fields),
    ) as form:
        filename = _filename(form.file)
        purpose = check_purpose(form.fields.get("purpose"), flavour.purposes)
        check_file(settings, purpose, filename, form.content.size)
        expires_after = _expires_after(form.fields)
        record = await state.files.create(
            filename=filename,
            purpose=purpose,
            content=form.content,
            expires_after=expires_after,
            lifecycle=flavour.lifecycle,
        )
    return created(request, state.files.file(record))


def _text_fields(flavour: Flavour) -> dict[str, Callable[[str], object]]:
    # Checked as soon as each arrives, so that a bad form fails before its file is read.
    return {
        "purpose": lambda value: check_purpose(value, flavour.purposes),
        "expires_after[anchor]": check_expires_anchor,
        "expires_after[seconds]": check_expires_seconds,
        "expires_after": check_expires_after_text,
    }


def _expires_after(fields: Mapping[str, str]) -> int | None:
    """The form's ``expires_after``: as ``expires_after[anchor]`` and ``[seconds]`` fields
    (how OpenAI's SDKs send it), or as one JSON field (OpenAPI 3.1's encoding), not both."""
    anchor, seconds = fields.get("expires_after[anchor]"), fields.get("expires_after[seconds]")
    text = fields.get("expires_after")
    if text is None:
        return expires_after_seconds(anchor, seconds)
    if anchor is not None or seconds is not None:
        raise bad_request(
            "'expires_after' is given twice: as a JSON field and as its fields.", "expires_after"
        )
    return check_expires_after_text(text)


def _filename(part: Part) -> str:
    return part.filename or "upload"


def _accept_file(
    settings: Settings, store: Store, part: Part, fields: Mapping[str, str]
) -> FileLimit:
    """Refuses a ``file`` that is a text field, or whose name its purpose (if it came first)
    does not accept; returns the largest size it may have."""
    if part.filename is None:
        raise bad_request("'file' must be a file, not a text field.", "file")
    purpose = fields.get("purpose")
    if purpose is not None:
        check_file(settings, purpose, _filename(part), None)
    limit = settings.limit_for(purpose)
    return FileLimit.tightest(
        FileLimit(limit, too_large("The file", limit)),
        FileLimit(store.quota.room(), store.quota.refusal()),
    )


async def list_files(request: web.Request) -> web.StreamResponse:
    """``GET /files``: ``purpose``, ``limit``, ``order``, ``after``."""
    query = request.query
    purpose = query.get("purpose")
    # Azure's spec types the filter as its purposes (OpenAI's as any text, empty for none).
    if purpose is not None and request[FLAVOUR] is AZURE:
        check_purpose(purpose, _AZURE_LISTED)
    return json_response(
        request,
        request.app[STATE].files.list(
            purpose=purpose or None,
            limit=check_limit(query.get("limit")),
            order=check_order(query.get("order")),
            after=query.get("after") or None,
        ),
    )


async def retrieve_file(request: web.Request) -> web.StreamResponse:
    """``GET /files/{file_id}``."""
    return json_response(request, request.app[STATE].files.retrieve(request.match_info["file_id"]))


async def delete_file(request: web.Request) -> web.StreamResponse:
    """``DELETE /files/{file_id}``."""
    return json_response(
        request, await request.app[STATE].files.delete(request.match_info["file_id"])
    )


async def file_content(request: web.Request) -> web.StreamResponse:
    """``GET /files/{file_id}/content``: streamed from disk, with its Content-Length."""
    path = request.app[STATE].files.content(request.match_info["file_id"])
    return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})
