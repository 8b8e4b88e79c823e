"""Azure's own route: ``POST /openai/files/import``, a file whose content is fetched from a URL."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from aikit_files.server._http import created, read_json, required_text
from aikit_files.server._rules import check_content_url, check_file, check_purpose
from aikit_files.server._state import FLAVOUR, STATE

_IMPORT_FIELDS: Final = frozenset({"purpose", "filename", "content_url"})


async def import_file(request: web.Request) -> web.StreamResponse:
    """``POST /openai/files/import``: ``purpose``, ``filename``, ``content_url``; the content is
    fetched in the background, and the file is ``pending`` meanwhile."""
    state = request.app[STATE]
    body = await read_json(request, _IMPORT_FIELDS)
    purpose = check_purpose(body.get("purpose"), request[FLAVOUR].purposes)
    filename = required_text(body, "filename")
    check_file(state.settings, purpose, filename, None, param="filename")
    url = check_content_url(body.get("content_url"))
    record = await state.files.start_import(url, filename=filename, purpose=purpose)
    return created(request, state.files.file(record))
