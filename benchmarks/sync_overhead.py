"""Per-call overhead of the sync wrapper: N ``retrieve`` calls through ``Client`` and ``AsyncClient``.

Runs the local Files API server in a subprocess, uploads one file, then times N sequential
``retrieve`` calls three ways, in alternating rounds (the order rotates each round), each way
in a process of its own (so that its peak RSS is its own): awaited on the async client,
blocking on the sync client, and on the sync client with an ``on_terminate`` callback (Future +
worker thread). Each process warms its connection with one call before the timing. The figures
are drawn in ``charts/sync_overhead.png``.

    .venv/bin/python benchmarks/sync_overhead.py [--calls 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from _common import ChartRow, Sample, conditions, medians_of, run_process, run_rounds, write_chart

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


def time_variant(variant: str, base_url: str, file_id: str, calls: int) -> float:
    """Seconds of ``calls`` sequential retrieves one way, after one that warms the connection."""
    if variant == "async (await)":
        return time_async(base_url, file_id, calls)
    with af.Client(api_key=API_KEY, base_url=base_url) as client:
        if variant == "sync (blocking)":
            return time_sync(client, file_id, calls)
        client.files.retrieve(file_id)
        return time_sync_callbacks(client, file_id, calls)


VARIANTS = ("async (await)", "sync (blocking)", "sync (callback)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--file-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant is not None:
        # One way, in this process: the parent measures it.
        seconds = time_variant(args.variant, args.base_url, args.file_id, args.calls)
        print(json.dumps({"transfer": seconds}))
        return
    print(f"sync_overhead: {conditions()}")
    with local_server() as base_url, af.Client(api_key=API_KEY, base_url=base_url) as client:
        uploaded = client.files.create(b"x" * 1024, "user_data", filename="bench.txt")
        assert isinstance(uploaded, af.OpenAIFile)

        def run(variant: str) -> Sample:
            command = [sys.executable, __file__, "--variant", variant, "--calls", str(args.calls),
                       "--base-url", base_url, "--file-id", uploaded.id]  # fmt: skip
            return run_process(command)

        samples = run_rounds(VARIANTS, None, args.rounds, run)
    base = statistics.median(s.transfer for s in samples["async (await)"]) / args.calls
    print(f"{args.calls} sequential retrieve calls, median of {args.rounds} rounds, loopback")
    print(
        f"{'client':<18}{'per call':>12}{'min-max us':>14}{'overhead vs async':>20}"
        f"{'process CPU s':>15}{'peak RSS MB':>13}"
    )
    rows = []
    for name, runs in samples.items():
        per_call = [s.transfer / args.calls * 1e6 for s in runs]
        median = statistics.median(per_call)
        rss = [s.rss_mb for s in runs]
        spread = f"{min(per_call):.0f}-{max(per_call):.0f}"
        print(
            f"{name:<18}{median:>9.0f} us{spread:>14}{median - base * 1e6:>17.0f} us"
            f"{statistics.median(s.cpu for s in runs):>15.2f}{statistics.median(rss):>13.0f}"
        )
        rows.append(
            ChartRow(
                name,
                median,
                statistics.median(rss),
                (min(per_call), max(per_call)),
                (min(rss), max(rss)),
            )
        )
    print(f"({conditions()})")
    write_chart(
        "sync_overhead",
        f"{args.calls} sequential retrieve calls, plain HTTP, loopback, each way in its own "
        f"process\n{medians_of(args.rounds)}; {conditions()}",
        rows,
        seconds_label="us per call (median; bar: min-max)",
    )


if __name__ == "__main__":
    main()
