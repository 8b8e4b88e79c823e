"""Server ingest: curl uploads a large file to ``aikit-files serve``; seconds and server peak RSS.

The server runs as ``python -m aikit_files serve`` in a process of its own, so its peak RSS
(``VmHWM`` in ``/proc/PID/status``) is its alone. The file goes up with ``curl -F`` (one
``POST /v1/files``, multipart, with a Content-Length), comes back with ``curl -o`` from
``GET /v1/files/{id}/content``, and is compared byte for byte. The figures are drawn in
``charts/server_ingest.png``.

    .venv/bin/python benchmarks/server_ingest.py              # 512 MiB
    .venv/bin/python benchmarks/server_ingest.py --size-mib 64
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

from _common import ChartRow, conditions, write_chart

MiB = 1024 * 1024
API_KEY = "sk-bench-ingest"


def make_file(path: pathlib.Path, size: int) -> None:
    """Writes ``size`` bytes of incompressible data (one random MiB, repeated)."""
    block = os.urandom(MiB)
    with path.open("wb") as handle:
        for _ in range(size // MiB):
            handle.write(block)
        handle.write(block[: size % MiB])


def sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(4 * MiB):
            digest.update(block)
    return digest.hexdigest()


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size (``VmHWM``), in MiB."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/PID/status")


@contextlib.contextmanager
def serve(data_dir: pathlib.Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``python -m aikit_files serve`` on a free port; yields the process and its URL."""
    command = [sys.executable, "-m", "aikit_files", "serve", "--port", "0"]
    command += ["--data-dir", str(data_dir), "--api-key", API_KEY]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            if not line.startswith("aikit-files: serving "):
                raise RuntimeError(f"the server did not start: {line!r}")
            yield server, line.split()[2]
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)


def curl(*args: str) -> str:
    """Runs curl; returns what it printed."""
    done = subprocess.run(
        ["curl", "--silent", "--show-error", "--fail-with-body", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"curl failed ({done.returncode}): {done.stderr.strip()} {done.stdout}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512, help="file size in MiB (512)")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        print("curl is needed", file=sys.stderr)
        return 2
    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory(prefix="aikit-ingest-") as scratch:
        root = pathlib.Path(scratch)
        source, copy = root / "source.bin", root / "copy.bin"
        make_file(source, size)
        expected = sha256(source)
        with serve(root / "data") as (server, url):
            idle = peak_rss_mib(server.pid)
            auth = f"Authorization: Bearer {API_KEY}"
            started = time.perf_counter()
            answer = curl(
                f"{url}/v1/files",
                "-H",
                auth,
                "-F",
                "purpose=user_data",
                "-F",
                f"file=@{source};filename=source.bin",
            )
            upload_seconds = time.perf_counter() - started
            created = json.loads(answer)
            after_upload = peak_rss_mib(server.pid)
            started = time.perf_counter()
            curl(f"{url}/v1/files/{created['id']}/content", "-H", auth, "-o", str(copy))
            download_seconds = time.perf_counter() - started
            after_download = peak_rss_mib(server.pid)
        identical = created["bytes"] == size and sha256(copy) == expected
    print(f"file:                    {size} bytes ({args.size_mib} MiB)")
    print(
        f"upload (curl -F):        {upload_seconds:.2f} s, {size / MiB / upload_seconds:.0f} MiB/s"
    )
    print(
        f"download (curl -o):      {download_seconds:.2f} s, {size / MiB / download_seconds:.0f} MiB/s"
    )
    print(
        f"server peak RSS:         {idle:.1f} MiB idle, {after_upload:.1f} MiB after upload, "
        f"{after_download:.1f} MiB after download"
    )
    print(f"downloaded copy:         {'byte-identical' if identical else 'DIFFERENT'}")
    print(f"({conditions()})")
    write_chart(
        "server_ingest",
        f"aikit-files serve: {args.size_mib} MiB up and down by curl, plain HTTP, loopback, "
        f"files on disk\nserver peak RSS idle {idle:.1f} MiB; one run; {conditions()}",
        [
            ChartRow("upload (curl -F)", upload_seconds, after_upload),
            ChartRow("download (curl -o)", download_seconds, after_download),
        ],
        seconds_label="seconds",
        memory_label="server peak RSS MiB (since it started)",
    )
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
