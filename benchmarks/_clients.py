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


CLIENTS: dict[str, Callable[..., Coroutine[Any, Any, dict[str, Any]]]] = {
    "aikit-upload": aikit_upload,
    "openai-upload-path": openai_upload_path,
    "openai-upload-file": openai_upload_file,
    "aikit-download": aikit_download,
    "openai-download-content": openai_download_content,
    "openai-download-streaming": openai_download_streaming,
}

if __name__ == "__main__":
    name, *arguments = sys.argv[1:]
    print(json.dumps(asyncio.run(CLIENTS[name](*arguments))))
