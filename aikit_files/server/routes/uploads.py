"""The ``/uploads`` routes: create an Upload, add a Part (a streamed form), complete, cancel.

Each request follows the rules of the route it is sent to. On Azure's (API version 2024-10-21)
an Upload holds up to 9 GiB (by default) and stays open two hours, a Part may be as large as a
file of the Upload's purpose, and the create body has no ``expires_after``. What an Upload was
created with (its ``bytes``, its ``expires_at``) stays, whichever route its Parts come by.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aiohttp import web

from aikit_files.server._errors import bad_request, too_large
from aikit_files.server._flavours import AZURE
from aikit_files.server._http import (
    FileLimit,
    json_response,
    location,
    read_json,
    receive_form,
    required_text,
)
from aikit_files.server._multipart import Part
from aikit_files.server._rules import (
    check_expires_after,
    check_file,
    check_purpose,
    check_upload_bytes,
)
from aikit_files.server._state import FLAVOUR, STATE
from aikit_files.server._uploads import OpenUpload, block_id

_CREATE_FIELDS: Final = frozenset({"bytes", "filename", "mime_type", "purpose", "expires_after"})
#: Azure's ``UploadFileStartBody`` has no ``expires_after``: it is an unknown argument there.
_AZURE_CREATE_FIELDS: Final = _CREATE_FIELDS - {"expires_after"}
_COMPLETE_FIELDS: Final = frozenset({"part_ids", "md5"})


def _upload_of(request: web.Request) -> OpenUpload:
    return request.app[STATE].uploads.get(request.match_info["upload_id"])


async def create_upload(request: web.Request) -> web.StreamResponse:
    """``POST /uploads``: ``bytes``, ``filename``, ``mime_type``, ``purpose``, and on the
    OpenAI routes ``expires_after``; 200, with a ``Location`` on Azure's."""
    state = request.app[STATE]
    settings = state.settings
    azure = request[FLAVOUR] is AZURE
    body = await read_json(request, _AZURE_CREATE_FIELDS if azure else _CREATE_FIELDS)
    purpose = check_purpose(body.get("purpose"), request[FLAVOUR].purposes)
    filename = required_text(body, "filename")
    mime_type = required_text(body, "mime_type")
    size = check_upload_bytes(settings, purpose, body.get("bytes"), azure=azure)
    check_file(settings, purpose, filename, None, param="filename")
    if size > state.store.quota.room():
        raise state.store.quota.refusal()
    upload = await state.uploads.create(
        filename=filename,
        purpose=purpose,
        mime_type=mime_type,
        size=size,
        expiry=settings.upload_expiry_for(azure=azure),
        file_expires_after=check_expires_after(body.get("expires_after")),
    )
    return json_response(request, upload, headers=location(request, f"uploads/{upload.id}"))


async def add_upload_part(request: web.Request) -> web.StreamResponse:
    """``POST /uploads/{upload_id}/parts``: a multipart form with one field, ``data``; on
    the Azure routes the Part's answer adds its ``azure_block_id``."""
    state = request.app[STATE]
    uploads = state.uploads
    upload = _upload_of(request)
    # NOTE: an Upload that takes no more Parts is reported before the body is read.
    uploads.check_pending(upload)
    azure = request[FLAVOUR] is AZURE
    part_limit = state.settings.part_limit_for(upload.record.purpose, azure=azure)

    def accept_part(part: Part, fields: Mapping[str, str]) -> FileLimit:
        # NOTE: a Part that would take the Upload past the bytes it announced is refused as
        # soon as it does, not at completion: nothing of it stays on disk.
        return FileLimit.tightest(
            FileLimit(part_limit, too_large("The Part", part_limit)),
            FileLimit(uploads.room(upload), uploads.past_declared_size(upload)),
            FileLimit(state.store.quota.room(), state.store.quota.refusal()),
        )

    async with receive_form(
        request,
        state.store,
        declared_limit=part_limit,
        file_field="data",
        text_fields={},
        accept_file=accept_part,
    ) as form:
        part = await uploads.add_part(upload, form.content)
    extra = {"azure_block_id": block_id(part.id)} if azure else None
    return json_response(request, part, extra=extra)


async def complete_upload(request: web.Request) -> web.StreamResponse:
    """``POST /uploads/{upload_id}/complete``: ``part_ids`` in order, and an optional ``md5``."""
    upload = _upload_of(request)
    body = await read_json(request, _COMPLETE_FIELDS)
    part_ids = body.get("part_ids")
    if not isinstance(part_ids, list):
        raise bad_request(
            "Missing required parameter: 'part_ids' (a list of Part ids).", "part_ids"
        )
    md5 = body.get("md5")
    if md5 is not None and not isinstance(md5, str):
        raise bad_request("'md5' must be a string.", "md5")
    completed = await request.app[STATE].uploads.complete(
        upload, part_ids, md5 or None, lifecycle=request[FLAVOUR].lifecycle
    )
    return json_response(request, completed)


async def cancel_upload(request: web.Request) -> web.StreamResponse:
    """``POST /uploads/{upload_id}/cancel``."""
    return json_response(request, await request.app[STATE].uploads.cancel(_upload_of(request)))
