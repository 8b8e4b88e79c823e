"""The aiohttp application: routes, middlewares (errors, auth, api-version, expiry), file handlers.

Each handler serves both flavours: the OpenAI routes under ``/v1`` and the Azure routes under
``/openai``. What differs (error envelope, credentials, status of a create, purposes, the
processing lifecycle) comes from the ``Flavour`` of the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import pathlib
import re
from collections.abc import AsyncIterator
from typing import Any, Final

import aiohttp
from aiohttp import web

from aikit_files._limits import LIST_LIMIT_MAX, LIST_LIMIT_MIN
from aikit_files._models import FileDeleted, FileList

from ._azure import Processor, import_file
from ._errors import ApiError, bad_request, not_found
from ._flavours import AZURE, Flavour, flavour_of
from ._http import (
    FLAVOUR,
    STATE,
    Handler,
    ServerState,
    add_file,
    awaits_continue,
    check_declared_size,
    created,
    json_response,
    new_record,
    receive_part,
    start_body,
)
from ._ids import FILE_ID, new_request_id
from ._multipart import FormReader
from ._rules import (
    Settings,
    check_expires_anchor,
    check_expires_seconds,
    check_file,
    check_purpose,
    expires_after_seconds,
)
from ._storage import FileRecord, Store
from ._uploads import Uploads, add_upload_part, cancel_upload, complete_upload, create_upload

log = logging.getLogger("aikit_files.server")

#: How long, and how many bytes, a refused request's body is discarded before the connection
#: closes (see ``_answer_and_close``).
LINGER_SECONDS: Final = 1.0
LINGER_BYTES: Final = 8 * 1024 * 1024
_API_VERSION: Final = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")
_FILE_FIELDS: Final = ("purpose", "expires_after[anchor]", "expires_after[seconds]")


# --- middlewares -----------------------------------------------------------------------------


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Renders every failure in the flavour's error envelope, and drops a half-read request."""
    flavour = flavour_of(request.path)
    request[FLAVOUR] = flavour
    try:
        return await handler(request)
    except ApiError as error:
        failure = error
    except web.HTTPException as http_error:
        if http_error.status < 400:
            raise
        failure = ApiError(http_error.status, _http_message(request, http_error))
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        failure = ApiError(500, "The server had an error while processing your request.")
    response = web.json_response(flavour.error_body(failure), status=failure.status)
    if not request.content.is_eof():
        await _answer_and_close(request, response)
    return response


async def _answer_and_close(request: web.Request, response: web.StreamResponse) -> None:
    """Sends the answer to a request whose body is not all read, then closes the connection.

    The rest of the body is not read (aiohttp would drain it for up to its lingering time, to
    keep the connection). A client still sending is given a little time, and bytes, to take
    the answer before the close, which might otherwise reset the connection under it.
    """
    response.force_close()
    with contextlib.suppress(ConnectionError, TimeoutError, aiohttp.ClientPayloadError):
        await response.prepare(request)
        await response.write_eof()
        if not awaits_continue(request):
            discarded = 0
            async with asyncio.timeout(LINGER_SECONDS):
                while discarded < LINGER_BYTES and (chunk := await request.content.readany()):
                    discarded += len(chunk)
    request.protocol.force_close()


def _http_message(request: web.Request, error: web.HTTPException) -> str:
    if error.status == 404:
        return f"Invalid URL ({request.method} {request.path})."
    if error.status == 405:
        return f"Method {request.method} is not allowed on {request.path}."
    if error.status == 413:
        return f"The request body exceeds the maximum size of {request.client_max_size} bytes."
    return error.reason


def _presented_key(request: web.Request, flavour: Flavour) -> str | None:
    if flavour is AZURE:
        return request.headers.get("api-key") or None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuses API requests without a key, or with a key other than the configured one."""
    if not request.path.startswith(("/v1/", "/openai/")):
        return await handler(request)
    flavour = request[FLAVOUR]
    expected = request.app[STATE].settings.api_key
    presented = _presented_key(request, flavour)
    # NOTE: messages never repeat the key, not even a part of it.
    if presented is None:
        where = "an 'api-key' header" if flavour is AZURE else "an Authorization header (Bearer)"
        raise ApiError(401, f"No API key provided: send it in {where}.", code="missing_api_key")
    if expected is not None and not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
    return await handler(request)


@web.middleware
async def api_version_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Requires ``api-version`` on the Azure routes."""
    if request[FLAVOUR] is AZURE:
        version = request.query.get("api-version")
        if not version:
            raise bad_request("Missing required query parameter: 'api-version'.", "api-version")
        if not _API_VERSION.fullmatch(version):
            raise bad_request(f"Unsupported api-version: {version!r}.", "api-version")
    return await handler(request)


@web.middleware
async def expiry_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Removes expired files and Uploads before a request looks at them."""
    state = request.app[STATE]
    await state.store.purge_expired()
    await state.uploads.purge_expired()
    return await handler(request)


async def defer_continue(request: web.Request) -> None:
    """Holds ``100 Continue`` back until a handler wants the body (``start_body``), so that a
    request refused on its headers alone is refused before the client sends the body."""
    if request.headers.get("Expect", "").lower() != "100-continue":
        raise web.HTTPExpectationFailed(text="Only 'Expect: 100-continue' is supported.")


# --- files -----------------------------------------------------------------------------------


def file_id_of(request: web.Request) -> str:
    """The ``file_id`` of the path, which must be a well-formed id.

    Raises:
        ApiError: 404 otherwise: the id names no file, and it never becomes a path.
    """
    file_id = request.match_info["file_id"]
    if not FILE_ID.fullmatch(file_id):
        raise not_found("File", file_id, "file_id")
    return file_id


def record_of(request: web.Request) -> FileRecord:
    """The record of the path's file.

    Raises:
        ApiError: 404 when there is no such file.
    """
    file_id = file_id_of(request)
    record = request.app[STATE].store.get(file_id)
    if record is None:
        raise not_found("File", file_id, "file_id")
    return record


async def create_file(request: web.Request) -> web.StreamResponse:
    """``POST /files``: a multipart form (``file``, ``purpose``, ``expires_after[...]``)."""
    flavour = request[FLAVOUR]
    state = request.app[STATE]
    settings = state.settings
    check_declared_size(request, settings.file_limit)
    form = FormReader.of(request)
    await start_body(request)
    fields: dict[str, str] = {}
    filename: str | None = None
    async with state.store.receive() as content:
        while (part := await form.next_part()) is not None:
            if part.name in fields or (part.name == "file" and filename is not None):
                raise bad_request(f"The form field {part.name!r} is given twice.", part.name)
            if part.name == "file":
                if part.filename is None:
                    raise bad_request("'file' must be a file, not a text field.", "file")
                filename = part.filename or "upload"
                purpose = fields.get("purpose")
                if purpose is not None:
                    check_file(settings, purpose, filename, None)
                await receive_part(form, content, settings.limit_for(purpose))
            elif part.name in _FILE_FIELDS:
                fields[part.name] = value = await form.text(part.name)
                _check_file_field(flavour, part.name, value)
            else:
                raise bad_request(
                    f"Unrecognized request argument supplied: {part.name}.", part.name
                )
        if filename is None:
            raise bad_request("Missing required parameter: 'file'.", "file")
        purpose = check_purpose(fields.get("purpose"), flavour.purposes)
        check_file(settings, purpose, filename, content.size)
        seconds = expires_after_seconds(
            fields.get("expires_after[anchor]"), fields.get("expires_after[seconds]")
        )
        await content.finish()
        record = new_record(request, filename, purpose, content.size, seconds)
        await add_file(request, record, content)
    return created(request, record)


def _check_file_field(flavour: Flavour, name: str, value: str) -> None:
    # Checked as soon as the field arrives, so that a bad form fails before its file is read.
    if name == "purpose":
        check_purpose(value, flavour.purposes)
    elif name == "expires_after[anchor]":
        check_expires_anchor(value)
    else:
        check_expires_seconds(value)


async def list_files(request: web.Request) -> web.StreamResponse:
    """``GET /files``: ``purpose``, ``limit``, ``order``, ``after``."""
    query = request.query
    limit_text = query.get("limit", str(LIST_LIMIT_MAX))
    limit = int(limit_text) if limit_text.strip().lstrip("+-").isdecimal() else 0
    if not LIST_LIMIT_MIN <= limit <= LIST_LIMIT_MAX:
        raise bad_request(
            f"Invalid value for 'limit': {limit_text!r}. It must be an integer between "
            f"{LIST_LIMIT_MIN} and {LIST_LIMIT_MAX}.",
            "limit",
        )
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request(
            f"Invalid value for 'order': {order!r}. Supported values are: 'asc', 'desc'.", "order"
        )
    after = query.get("after") or None
    if after is not None and not FILE_ID.fullmatch(after):
        raise bad_request(f"Invalid value for 'after': {after!r} is not a file id.", "after")
    state = request.app[STATE]
    records, has_more = state.store.page(
        purpose=query.get("purpose") or None, limit=limit, order=order, after=after
    )
    now = state.settings.clock()
    return json_response(
        FileList(
            data=[record.file(now) for record in records],
            first_id=records[0].id if records else None,
            last_id=records[-1].id if records else None,
            has_more=has_more,
        )
    )


async def retrieve_file(request: web.Request) -> web.StreamResponse:
    """``GET /files/{file_id}``."""
    return json_response(record_of(request).file(request.app[STATE].settings.clock()))


async def delete_file(request: web.Request) -> web.StreamResponse:
    """``DELETE /files/{file_id}``."""
    file_id = file_id_of(request)
    if not await request.app[STATE].store.delete(file_id):
        raise not_found("File", file_id, "file_id")
    return json_response(FileDeleted(id=file_id, deleted=True))


async def file_content(request: web.Request) -> web.StreamResponse:
    """``GET /files/{file_id}/content``: streamed from disk, with its Content-Length."""
    record = record_of(request)
    if record.bytes is None:
        raise ApiError(
            404,
            f"File {record.id} has no content yet: it is still being imported.",
            param="file_id",
        )
    path: pathlib.Path = request.app[STATE].store.content_path(record.id)
    return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})


# --- the application -------------------------------------------------------------------------

_ROUTES: Final[tuple[tuple[str, str, Handler], ...]] = (
    ("POST", "/files", create_file),
    ("GET", "/files", list_files),
    ("GET", "/files/{file_id}", retrieve_file),
    ("DELETE", "/files/{file_id}", delete_file),
    ("GET", "/files/{file_id}/content", file_content),
    ("POST", "/uploads", create_upload),
    ("POST", "/uploads/{upload_id}/parts", add_upload_part),
    ("POST", "/uploads/{upload_id}/complete", complete_upload),
    ("POST", "/uploads/{upload_id}/cancel", cancel_upload),
)


def create_app(
    data_dir: str | os.PathLike[str],
    *,
    api_key: str | None = None,
    **options: Any,
) -> web.Application:
    """The local Files API server, as an ``aiohttp.web.Application``.

    It serves the OpenAI routes under ``/v1`` and the Azure routes (plus ``/files/import``)
    under ``/openai``, and keeps files in ``data_dir`` (created if missing).

    Args:
        data_dir: Where files, metadata and Uploads are kept; a restart loses nothing.
        api_key: The only key accepted; None accepts any non-empty key.
        **options: Fields of ``Settings``: ``file_limit``, ``batch_file_limit``,
            ``part_limit``, ``upload_limit``, ``upload_expiry`` (seconds),
            ``processing_delay`` (seconds an Azure file stays ``pending`` then ``running``),
            ``clock`` (a function returning the time, for tests).

    Returns:
        The application; it opens its data directory (and cleans up after a crash) on startup.
    """
    settings = Settings(api_key=api_key, **options)
    store = Store(pathlib.Path(data_dir), settings.clock)
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware, api_version_middleware, expiry_middleware]
    )
    app[STATE] = ServerState(
        settings=settings,
        store=store,
        uploads=Uploads(store, settings),
        processor=Processor(store, settings),
    )
    app.cleanup_ctx.append(_lifetime)
    app.on_response_prepare.append(_stamp_request_id)
    app.router.add_route("POST", "/openai/files/import", import_file, expect_handler=defer_continue)
    for prefix in ("/v1", "/openai"):
        for method, path, handler in _ROUTES:
            app.router.add_route(method, prefix + path, handler, expect_handler=defer_continue)
    return app


async def _stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Gives every answer, errors included, an ``x-request-id``, as the real API does."""
    response.headers["x-request-id"] = new_request_id()


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]

    def open_data_dir() -> list[FileRecord]:
        interrupted = state.store.open()
        state.uploads.open()
        return interrupted

    state.processor.recover(await asyncio.to_thread(open_data_dir))
    yield
    await state.processor.close()
