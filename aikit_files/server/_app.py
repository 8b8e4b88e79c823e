"""The application factory: settings, state, middlewares, the routes table, lifetime hooks.

Each route serves both flavours: the OpenAI routes under ``/v1`` and the Azure routes under
``/openai``. What differs (error envelope, credentials, status of a create, purposes, the
processing lifecycle) comes from the ``Flavour`` of the request.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
from collections.abc import AsyncIterator
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Handler

from ._files import Files
from ._http import defer_continue
from ._middleware import (
    UNMATCHED,
    api_version_middleware,
    auth_middleware,
    errors_middleware,
    expiry_middleware,
    stamp_request_id,
)
from ._processing import Processor
from ._records import FileRecord
from ._rules import Settings
from ._state import STATE, ServerState
from ._storage import Store
from ._uploads import Uploads
from .routes import azure, files, uploads

Routes = tuple[tuple[str, str, Handler], ...]

#: A file's path: any segment but ``import``, which is never a file id and is Azure's own route
#: (so that a GET of it is a 405 naming POST, not a 404 for the file ``import``).
_FILE: Final = "/files/{file_id:(?!import$)[^/]+}"

#: aiohttp's default time to drain a body no handler read, kept when the idle timeout is longer.
_LINGERING_SECONDS: Final = 10.0

#: The routes of both flavours, each under ``/v1`` and under ``/openai``.
_ROUTES: Final[Routes] = (
    ("POST", "/files", files.create_file),
    ("GET", "/files", files.list_files),
    ("GET", _FILE, files.retrieve_file),
    ("DELETE", _FILE, files.delete_file),
    ("GET", _FILE + "/content", files.file_content),
    ("POST", "/uploads", uploads.create_upload),
    ("POST", "/uploads/{upload_id}/parts", uploads.add_upload_part),
    ("POST", "/uploads/{upload_id}/complete", uploads.complete_upload),
    ("POST", "/uploads/{upload_id}/cancel", uploads.cancel_upload),
)
#: Azure's own routes, under ``/openai`` only.
_AZURE_ROUTES: Final[Routes] = (("POST", "/files/import", azure.import_file),)


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
        **options: Fields of ``Settings``: ``file_limit`` and ``batch_file_limit`` (bytes:
            the largest file, and ``batch`` file, that ``POST /files`` or an import takes;
            on ``/openai`` also the largest Part of an Upload of that purpose);
            ``part_limit``, ``upload_limit`` (bytes) and ``upload_expiry`` (seconds, 3600):
            OpenAI's Uploads, on ``/v1``; ``azure_upload_limit`` (bytes, 9 GiB): Azure's
            Uploads, on ``/openai``, which stay open two hours
            (``AZURE_UPLOAD_EXPIRY_SECONDS``; tests move ``clock`` to see them expire); an
            Upload's record goes an hour after its expiry, whatever its status
            (``RECORD_RETENTION``);
            ``max_storage`` (bytes: what the files stored and the Parts of
            pending Uploads may hold in all),
            ``idle_timeout`` (seconds a connection may send nothing, in a request or
            between two, before it is closed), ``processing_delay`` (seconds an Azure file
            stays ``pending`` then ``running``), ``allow_private_import`` (whether
            ``files/import`` may fetch from loopback, private, link-local, multicast or
            reserved addresses),
            ``import_timeout`` (seconds a ``files/import`` fetch may take in all, 300),
            ``clock`` (a function returning the time, for tests).

    Returns:
        The application; it opens its data directory (and cleans up after a crash) on startup.
    """
    settings = Settings(api_key=api_key, **options)
    store = Store(pathlib.Path(data_dir), settings.clock, settings.max_storage)
    processor = Processor(store, settings)
    files_service = Files(store, settings, processor)
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware, api_version_middleware, expiry_middleware],
        # NOTE: aiohttp's keep-alive timer closes a connection that has not sent a whole
        # request head within this time, of its opening or of the previous answer: an idle
        # keep-alive connection, or a request line or headers begun and never finished. The
        # body's reads are timed by the handlers (read_json, receive_form).
        # A body that a handler never read (a short one, on a route that reads none) is
        # drained after the answer for at most ``lingering_time``: no longer than the idle
        # timeout either (aiohttp's own is 10 s).
        handler_args={
            "keepalive_timeout": settings.idle_timeout,
            "lingering_time": min(settings.idle_timeout, _LINGERING_SECONDS),
        },
    )
    app[STATE] = ServerState(
        settings=settings,
        store=store,
        files=files_service,
        uploads=Uploads(store, settings, files_service),
        processor=processor,
    )
    app.cleanup_ctx.append(_lifetime)
    app.on_response_prepare.append(stamp_request_id)
    for method, path, handler in _AZURE_ROUTES:
        app.router.add_route(method, "/openai" + path, handler, expect_handler=defer_continue)
    for prefix in ("/v1", "/openai"):
        for method, path, handler in _ROUTES:
            app.router.add_route(method, prefix + path, handler, expect_handler=defer_continue)
    # NOTE: last, so that it serves only what nothing else does: aiohttp's own 404 and 405
    # answer an Expect header before any middleware, in plain text.
    app.router.add_route(
        "*", "/{path:.*}", _unmatched, expect_handler=defer_continue, name=UNMATCHED
    )
    return app


async def _unmatched(request: web.Request) -> web.StreamResponse:
    """A request no route serves: 405 where another method is served, else 404."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not request.match_info.route.resource:
            allowed |= (await resource.resolve(request))[1]
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    """Opens the data directory (resuming interrupted processing), and at shutdown stops the
    processing still running."""
    state = app[STATE]

    def open_data_dir() -> list[FileRecord]:
        interrupted = state.store.open()
        state.uploads.open()
        return interrupted

    state.processor.recover(await asyncio.to_thread(open_data_dir))
    yield
    await state.processor.close()
