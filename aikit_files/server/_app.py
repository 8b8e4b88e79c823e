"""The aiohttp application: routes, middlewares (errors, auth, api-version), and file handlers.

Each handler serves both flavours: the OpenAI routes under ``/v1`` and the Azure routes under
``/openai``. What differs (error envelope, credentials, status of a create, purposes, the
processing lifecycle) comes from the ``Flavour`` of the request.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import pathlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import attrs
from aiohttp import web

from aikit_files import _serde
from aikit_files._config import KNOWN_PURPOSES, LIST_LIMIT_MAX, LIST_LIMIT_MIN
from aikit_files._models import FileDeleted, FileList

from ._errors import ApiError, Flavour, azure_error_body, bad_request, not_found, openai_error_body
from ._ids import FILE_ID
from ._multipart import FormReader
from ._rules import (
    Settings,
    check_expires_anchor,
    check_expires_seconds,
    check_file,
    check_purpose,
    expires_after_seconds,
    expires_at,
    too_large,
)
from ._storage import FileRecord, Store

log = logging.getLogger("aikit_files.server")

OPENAI: Final = Flavour(
    name="openai",
    error_body=openai_error_body,
    create_status=200,
    purposes=frozenset(KNOWN_PURPOSES),
    lifecycle=False,
)
#: Azure's spec adds result purposes to the upload enum; we accept OpenAI's too, as newer
#: Azure API versions do.
AZURE: Final = Flavour(
    name="azure",
    error_body=azure_error_body,
    create_status=201,
    purposes=frozenset(KNOWN_PURPOSES) | {"fine-tune-results", "assistants_output"},
    lifecycle=True,
)

#: Room for the form's framing (boundaries, part headers, text fields) beyond the file's bytes.
FORM_ALLOWANCE: Final = 64 * 1024
_API_VERSION: Final = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")
_FILE_FIELDS: Final = ("purpose", "expires_after[anchor]", "expires_after[seconds]")


@attrs.define
class ServerState:
    """Everything the handlers share."""

    settings: Settings
    store: Store


STATE: Final = web.AppKey("state", ServerState)
FLAVOUR: Final = web.RequestKey("flavour", Flavour)
_CONTINUED: Final = web.RequestKey("continued", bool)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def flavour_of(request: web.Request) -> Flavour:
    """The flavour of the route a request addresses, by its path prefix."""
    return AZURE if request.path.startswith("/openai/") else OPENAI


def _json(request: web.Request, model: object, status: int = 200) -> web.Response:
    return web.json_response(_serde.unstructure(model), status=status)


# --- middlewares -----------------------------------------------------------------------------


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Renders every failure in the flavour's error envelope, and drops a half-read request."""
    flavour = flavour_of(request)
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
        # NOTE: the rest of the body is never read: the connection is closed after the answer.
        response.force_close()
    return response


def _http_message(request: web.Request, error: web.HTTPException) -> str:
    if error.status == 404:
        return f"Invalid URL ({request.method} {request.path})"
    if error.status == 405:
        return f"Method {request.method} is not allowed on {request.path}."
    return error.reason


def _presented_key(request: web.Request, flavour: Flavour) -> str | None:
    if flavour is AZURE:
        return request.headers.get("api-key") or None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuses requests without a key, or with a key other than the configured one."""
    flavour = request[FLAVOUR]
    if not request.path.startswith(("/v1/", "/openai/")):
        return await handler(request)
    expected = request.app[STATE].settings.api_key
    presented = _presented_key(request, flavour)
    # NOTE: messages never repeat the key, not even a part of it.
    if presented is None:
        header = "an 'api-key' header" if flavour is AZURE else "an Authorization header (Bearer)"
        raise ApiError(401, f"No API key provided: send it in {header}.", code="missing_api_key")
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
    """Removes expired files before any request looks at the store."""
    await request.app[STATE].store.purge_expired()
    return await handler(request)


async def defer_continue(request: web.Request) -> None:
    """Holds back ``100 Continue`` until a handler wants the body (see ``start_body``)."""
    if request.headers.get("Expect", "").lower() != "100-continue":
        raise web.HTTPExpectationFailed(text="Only 'Expect: 100-continue' is supported.")


async def start_body(request: web.Request) -> None:
    """Sends ``100 Continue`` if the client waits for it: the request passed every check that
    does not need the body, so the client may send it."""
    expect = request.headers.get("Expect", "").lower() == "100-continue"
    if expect and not request.get(_CONTINUED, False):
        request[_CONTINUED] = True
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")


def check_declared_size(request: web.Request, limit: int) -> None:
    """Refuses a body whose declared length cannot hold a form with a file within ``limit``."""
    declared = request.content_length
    if declared is not None and declared > limit + FORM_ALLOWANCE:
        raise too_large("The request body", limit + FORM_ALLOWANCE)


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


# --- files -----------------------------------------------------------------------------------


async def create_file(request: web.Request) -> web.StreamResponse:
    """``POST /files``: a multipart form (``file``, ``purpose``, ``expires_after[...]``)."""
    flavour = request[FLAVOUR]
    state = request.app[STATE]
    settings, store = state.settings, state.store
    check_declared_size(request, settings.file_limit)
    form = FormReader.of(request)
    await start_body(request)
    fields: dict[str, str] = {}
    filename: str | None = None
    async with store.receive() as content:
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
                limit = settings.limit_for(purpose)
                async for chunk in form.chunks():
                    if content.size + len(chunk) > limit:
                        raise too_large("The file", limit)
                    await content.write(chunk)
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
        await store.add(record, content)
    return created(request, record)


def _check_file_field(flavour: Flavour, name: str, value: str) -> None:
    # Checked as soon as the field arrives, so that a bad form fails before its file is read.
    if name == "purpose":
        check_purpose(value, flavour.purposes)
    elif name == "expires_after[anchor]":
        check_expires_anchor(value)
    else:
        check_expires_seconds(value)


def new_record(
    request: web.Request,
    filename: str,
    purpose: str,
    size: int | None,
    expires_after: int | None,
) -> FileRecord:
    """The record of a file accepted now, processed at once (OpenAI) or in a while (Azure)."""
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


def created(request: web.Request, record: FileRecord) -> web.StreamResponse:
    """The answer to a create: 200 (OpenAI) or 201 with a ``Location`` (Azure)."""
    flavour = request[FLAVOUR]
    response = _json(request, record.file(request.app[STATE].settings.clock()))
    response.set_status(flavour.create_status)
    if flavour is AZURE:
        response.headers["Location"] = f"{request.url.origin()}/openai/files/{record.id}"
    return response


async def list_files(request: web.Request) -> web.StreamResponse:
    """``GET /files``: ``purpose``, ``limit``, ``order``, ``after``."""
    query = request.query
    limit_text = query.get("limit", str(LIST_LIMIT_MAX))
    try:
        limit = int(limit_text)
    except ValueError:
        limit = 0
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
    return _json(
        request,
        FileList(
            data=[record.file(now) for record in records],
            first_id=records[0].id if records else None,
            last_id=records[-1].id if records else None,
            has_more=has_more,
        ),
    )


async def retrieve_file(request: web.Request) -> web.StreamResponse:
    """``GET /files/{file_id}``."""
    return _json(request, record_of(request).file(request.app[STATE].settings.clock()))


async def delete_file(request: web.Request) -> web.StreamResponse:
    """``DELETE /files/{file_id}``."""
    file_id = file_id_of(request)
    if not await request.app[STATE].store.delete(file_id):
        raise not_found("File", file_id, "file_id")
    return _json(request, FileDeleted(id=file_id, deleted=True))


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


def create_app(
    data_dir: str | os.PathLike[str],
    *,
    api_key: str | None = None,
    **options: Any,
) -> web.Application:
    """The local Files API server, as an ``aiohttp.web.Application``.

    It serves the OpenAI routes under ``/v1`` and the Azure routes under ``/openai``, and keeps
    files in ``data_dir`` (created if missing).

    Args:
        data_dir: Where files, metadata and Uploads are kept; a restart loses nothing.
        api_key: The only key accepted; None accepts any non-empty key.
        **options: Fields of ``Settings``: ``file_limit``, ``batch_file_limit``,
            ``part_limit``, ``upload_limit``, ``upload_expiry``, ``processing_delay``,
            ``clock``.

    Returns:
        The application; its store opens when it starts.
    """
    settings = Settings(api_key=api_key, **options)
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware, api_version_middleware, expiry_middleware]
    )
    store = Store(pathlib.Path(data_dir), settings.clock)
    app[STATE] = ServerState(settings=settings, store=store)
    app.cleanup_ctx.append(_open_store)
    for prefix in ("/v1", "/openai"):
        routes: list[tuple[str, str, Handler]] = [
            ("POST", "/files", create_file),
            ("GET", "/files", list_files),
            ("GET", "/files/{file_id}", retrieve_file),
            ("DELETE", "/files/{file_id}", delete_file),
            ("GET", "/files/{file_id}/content", file_content),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, prefix + path, handler, expect_handler=defer_continue)
    return app


async def _open_store(app: web.Application) -> AsyncIterator[None]:
    await asyncio.to_thread(app[STATE].store.open)
    yield
