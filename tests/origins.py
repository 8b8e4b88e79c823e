"""An origin for ``files/import``: a web server on loopback that serves a JSON Lines file, as a
blob store would (the ``origin`` fixture of ``conftest.py``)."""

from __future__ import annotations

from aiohttp import web

from aikit_files.server._runner import AppThread

#: What the origin serves at ``/train.jsonl``.
JSONL = b'{"prompt": "a", "completion": "b"}\n' * 100


def jsonl_origin() -> AppThread:
    """The origin, not started yet (``with jsonl_origin() as running: ...``)."""

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=JSONL, content_type="application/octet-stream")

    def make() -> web.Application:
        app = web.Application()
        app.router.add_get("/train.jsonl", serve)
        return app

    return AppThread(make)
