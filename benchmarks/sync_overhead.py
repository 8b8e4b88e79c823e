"""Per-call overhead of the sync wrapper: N ``retrieve`` calls through ``Client`` and ``AsyncClient``.

Runs the local Files API server in a subprocess, uploads one file, then times N sequential
``retrieve`` calls three ways, alternating rounds: awaited on the async client, blocking on the
sync client, and on the sync client with an ``on_terminate`` callback (Future + worker thread).

    .venv/bin/python benchmarks/sync_overhead.py [--calls 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import aikit_files as af

API_KEY = "sk-bench-local"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def local_server() -> Iterator[str]:
    """Runs ``python -m aikit_files serve`` and yields its OpenAI base URL."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aikit_files", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--data-dir", data_dir, "--api-key", API_KEY],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"{url}/v1/files", timeout=1)
                except urllib.error.HTTPError:
                    break  # 401: it is up
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            yield f"{url}/v1"
        finally:
            proc.terminate()
            proc.wait(10)


def time_async(base_url: str, file_id: str, calls: int) -> float:
    async def run() -> float:
        async with af.AsyncClient(api_key=API_KEY, base_url=base_url) as client:
            await client.files.retrieve(file_id)  # warm the connection
            start = time.perf_counter()
            for _ in range(calls):
                await client.files.retrieve(file_id)
            return time.perf_counter() - start

    return asyncio.run(run())


def time_sync(client: af.Client, file_id: str, calls: int) -> float:
    client.files.retrieve(file_id)
    start = time.perf_counter()
    for _ in range(calls):
        client.files.retrieve(file_id)
    return time.perf_counter() - start


def time_sync_callbacks(client: af.Client, file_id: str, calls: int) -> float:
    done = threading.Semaphore(0)

    def on_terminate(result: af.Result) -> None:
        done.release()

    start = time.perf_counter()
    for _ in range(calls):
        future = client.files.retrieve(file_id, on_terminate=on_terminate)
        assert not isinstance(future, af.OpenAIFile)
        future.result()
        done.acquire()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    timings: dict[str, list[float]] = {
        "async (await)": [],
        "sync (blocking)": [],
        "sync (callback)": [],
    }
    with local_server() as base_url, af.Client(api_key=API_KEY, base_url=base_url) as client:
        uploaded = client.files.create(b"x" * 1024, "user_data", filename="bench.txt")
        assert isinstance(uploaded, af.OpenAIFile)
        runners: dict[str, Callable[[], float]] = {
            "async (await)": lambda: time_async(base_url, uploaded.id, args.calls),
            "sync (blocking)": lambda: time_sync(client, uploaded.id, args.calls),
            "sync (callback)": lambda: time_sync_callbacks(client, uploaded.id, args.calls),
        }
        for _ in range(args.rounds):
            for name, run in runners.items():
                timings[name].append(run())
    base = statistics.median(timings["async (await)"]) / args.calls
    print(f"{args.calls} sequential retrieve calls, median of {args.rounds} rounds, loopback")
    print(f"{'client':<18}{'per call':>12}{'overhead vs async':>20}")
    for name, values in timings.items():
        per_call = statistics.median(values) / args.calls
        print(f"{name:<18}{per_call * 1e6:>9.0f} us{(per_call - base) * 1e6:>17.0f} us")


if __name__ == "__main__":
    main()
