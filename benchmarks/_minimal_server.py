"""The minimal server of the load benchmark: two routes of the Files API and nothing else.

``GET /v1/files/{file_id}`` answers a fixed File object; ``POST /v1/files`` reads the multipart
body, splits it into its parts and answers a File object with the file part's size and the
form's purpose. No authentication, no storage, no middleware, no access log: what it costs per request is
aiohttp's own HTTP handling, so that the clients' differences show.

    python _minimal_server.py PORT

prints ``serving http://127.0.0.1:PORT`` once it listens (port 0 picks a free one) and stops on
SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time

from aiohttp import web

FILE: dict[str, object] = {
    "id": "file-bench0000000000000000000",
    "object": "file",
    "bytes": 4096,
    "created_at": 1_700_000_000,
    "filename": "bench.bin",
    "purpose": "assistants",
    "status": "processed",
    "status_details": None,
    "expires_at": None,
}
_FILE_JSON = json.dumps(FILE).encode()


async def retrieve(request: web.Request) -> web.Response:
    return web.Response(body=_FILE_JSON, content_type="application/json")


async def create(request: web.Request) -> web.Response:
    # NOTE: the body is split by hand, not read with aiohttp's MultipartReader: that reader
    # costs the server more per 4 KiB upload than aiohttp's whole HTTP handling, and would set
    # the pace of every client. The split checks what the benchmark needs: the parts, the
    # purpose and the file part's bytes.
    kind, _, boundary = request.headers.get("Content-Type", "").partition("; boundary=")
    body = await request.read()
    if kind != "multipart/form-data" or not body.endswith(f"\r\n--{boundary}--\r\n".encode()):
        raise web.HTTPBadRequest(text="not a multipart/form-data body")
    fields: dict[str, bytes] = {}
    filename = ""
    for part in body.split(f"--{boundary}".encode())[1:-1]:
        head, _, content = part.partition(b"\r\n\r\n")
        disposition = head.decode().partition("Content-Disposition: form-data; ")[2]
        params = dict(p.split("=", 1) for p in disposition.split("\r\n")[0].split("; "))
        name = params["name"].strip('"')
        fields[name] = content[: -len(b"\r\n")]
        if name == "file":
            filename = params.get("filename", "").strip('"')
    if "file" not in fields:
        raise web.HTTPBadRequest(text="no file part")
    created = FILE | {
        "id": f"file-{time.monotonic_ns():024x}",
        "bytes": len(fields["file"]),
        "filename": filename,
        "purpose": fields.get("purpose", b"").decode(),
        "status": "uploaded",
    }
    return web.Response(body=json.dumps(created).encode(), content_type="application/json")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/v1/files/{file_id}", retrieve)
    app.router.add_post("/v1/files", create)
    return app


async def serve(port: int) -> None:
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    print(f"serving http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
