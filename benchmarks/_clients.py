"""The Python clients the transfer benchmarks time, one per process: ``_clients.py NAME ARGS...``.

Each prints one JSON line: ``transfer`` (seconds of the transfer alone), ``call_cpu`` (CPU
seconds of the process, all its threads, during the transfer alone: ``time.process_time()``
around the call), ``stall_ms`` (the longest the event loop went without running a 5 ms ticker,
for async clients) and what the run produced. Only the SDK a client uses is imported, so each
process's memory is its own.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

API_KEY = "sk-bench-local"


async def timed(operation: Awaitable[Any]) -> tuple[dict[str, float], Any]:
    """What ``operation`` took (``transfer``, ``call_cpu``, ``stall_ms``), and its value."""
    loop = asyncio.get_running_loop()
    worst = 0.0

    async def ticker() -> None:
        nonlocal worst
        while True:
            expected = loop.time() + 0.005
            await asyncio.sleep(0.005)
            worst = max(worst, loop.time() - expected)

    task = loop.create_task(ticker())
    cpu_started = time.process_time()
    started = time.perf_counter()
    try:
        value = await operation
    finally:
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        task.cancel()
    return {"transfer": elapsed, "call_cpu": cpu, "stall_ms": worst * 1000}, value


async def aikit_upload(base_url: str, path: str) -> dict[str, Any]:
    import aikit_files as af

    async with af.AsyncClient(API_KEY, base_url=base_url) as client:
        measured, file = await timed(client.files.create(pathlib.Path(path), "assistants"))
    return {**measured, "id": file.id, "bytes": file.bytes}


async def aikit_upload_large(
    base_url: str, path: str, concurrency: str, part_size: str, threshold: str
) -> dict[str, Any]:
    """A file above ``upload_threshold`` ("default": 512 MiB), through the Uploads API.

    Also ``parts_sent``: the seconds until the last byte of the last Part was sent (from
    ``on_progress``); the rest is that Part's answer and ``complete``, which the server spends
    assembling the Parts and checking their MD5.
    """
    import aikit_files as af

    sent_all: float | None = None

    def on_progress(sent: int, total: int | None) -> None:
        nonlocal sent_all
        if sent == total and sent_all is None:
            sent_all = time.perf_counter()

    async with af.AsyncClient(API_KEY, base_url=base_url) as client:
        started = time.perf_counter()
        measured, file = await timed(
            client.files.create(
                pathlib.Path(path),
                "assistants",
                upload_threshold=None if threshold == "default" else int(threshold),
                part_size=int(part_size),
                max_concurrency=int(concurrency),
                on_progress=on_progress,
            )
        )
    parts_sent = None if sent_all is None else sent_all - started
    return {**measured, "parts_sent": parts_sent, "id": file.id, "bytes": file.bytes}


async def openai_upload_chunked(
    base_url: str, path: str, md5: str, part_size: str
) -> dict[str, Any]:
    """``uploads.upload_file_chunked``: its Parts one after another, each read whole.

    ``part_size`` "default" leaves the SDK's own; ``md5`` (computed beforehand, outside the
    timing: the SDK does not compute it) goes with ``complete``, so that the server checks it
    as it does aikit_files'.
    """
    import openai

    async with openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url) as client:
        measured, upload = await timed(
            client.uploads.upload_file_chunked(
                file=pathlib.Path(path),
                mime_type="application/octet-stream",
                purpose="assistants",
                part_size=None if part_size == "default" else int(part_size),
                md5=md5,
            )
        )
    if upload.file is None:
        raise RuntimeError(f"Upload {upload.id} is {upload.status}, with no file")
    return {**measured, "id": upload.file.id, "bytes": upload.file.bytes}


async def openai_upload_path(base_url: str, path: str) -> dict[str, Any]:
    import openai

    async with openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url) as client:
        measured, file = await timed(
            client.files.create(file=pathlib.Path(path), purpose="assistants")
        )
    return {**measured, "id": file.id, "bytes": file.bytes}


async def openai_upload_file(base_url: str, path: str) -> dict[str, Any]:
    import openai

    async with openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url) as client:
        with open(path, "rb") as opened:  # noqa: ASYNC230 (the SDK's documented usage)
            measured, file = await timed(client.files.create(file=opened, purpose="assistants"))
    return {**measured, "id": file.id, "bytes": file.bytes}


async def aikit_download(base_url: str, file_id: str, destination: str) -> dict[str, Any]:
    import aikit_files as af

    async with af.AsyncClient(API_KEY, base_url=base_url) as client:
        measured, _ = await timed(client.files.download(file_id, destination))
    return measured


async def openai_download_content(base_url: str, file_id: str, destination: str) -> dict[str, Any]:
    import openai

    async def fetch() -> None:
        response = await client.files.content(file_id)
        # The SDK's write_to_file is a blocking write of what it holds in memory.
        response.write_to_file(destination)

    async with openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url) as client:
        measured, _ = await timed(fetch())
    return measured


async def openai_download_streaming(
    base_url: str, file_id: str, destination: str
) -> dict[str, Any]:
    import openai

    async def fetch() -> None:
        async with client.files.with_streaming_response.content(file_id) as response:
            await response.stream_to_file(destination)

    async with openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url) as client:
        measured, _ = await timed(fetch())
    return measured


async def aikit_check(purpose: str, path: str) -> dict[str, Any]:
    """``check_file`` of a JSON Lines file, as ``create(..., check=True)`` runs it (in a thread)."""
    import aikit_files as af

    measured, check = await timed(asyncio.to_thread(af.check_file, path, purpose))
    return {**measured, "ok": check.ok, "lines": check.lines, "bytes": check.bytes}


async def stdlib_json_lines(path: str) -> dict[str, Any]:
    """The floor of any check in Python: each line read and decoded by the stdlib's ``json``,
    nothing checked."""

    def read() -> int:
        lines = 0
        with open(path, "rb") as file:
            for line in file:
                json.loads(line)
                lines += 1
        return lines

    measured, lines = await timed(asyncio.to_thread(read))
    return {**measured, "lines": lines}


CLIENTS: dict[str, Callable[..., Coroutine[Any, Any, dict[str, Any]]]] = {
    "aikit-upload": aikit_upload,
    "aikit-check": aikit_check,
    "stdlib-json-lines": stdlib_json_lines,
    "openai-upload-path": openai_upload_path,
    "openai-upload-file": openai_upload_file,
    "aikit-upload-large": aikit_upload_large,
    "openai-upload-chunked": openai_upload_chunked,
    "aikit-download": aikit_download,
    "openai-download-content": openai_download_content,
    "openai-download-streaming": openai_download_streaming,
}

if __name__ == "__main__":
    name, *arguments = sys.argv[1:]
    print(json.dumps(asyncio.run(CLIENTS[name](*arguments))))
