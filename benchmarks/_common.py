"""Shared pieces of the transfer benchmarks: the server, certificates, process measurement, tables.

The local Files API server runs in a subprocess, over plain HTTP or over TLS with a certificate
from a local CA (trustme): real traffic is HTTPS. Each client runs in a process of its own, so
its peak RSS is its own; ``_clients.py`` holds the Python clients.

Run as a script, this module is the server: ``python _common.py serve PORT DATA_DIR [CERT KEY]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence

import attrs

API_KEY = "sk-bench-local"
MiB = 1024 * 1024
HERE = pathlib.Path(__file__).resolve().parent
CLIENTS = HERE / "_clients.py"


@attrs.frozen
class Certificates:
    """A local CA and a certificate it signed for 127.0.0.1."""

    ca: pathlib.Path
    cert: pathlib.Path
    key: pathlib.Path


def make_certificates(directory: pathlib.Path) -> Certificates:
    """Writes a CA and a server certificate for 127.0.0.1 into ``directory``."""
    import trustme

    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    paths = Certificates(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca.cert_pem.write_to_path(str(paths.ca))
    server.private_key_pem.write_to_path(str(paths.key))
    server.cert_chain_pems[0].write_to_path(str(paths.cert))
    for extra in server.cert_chain_pems[1:]:
        with paths.cert.open("ab") as file:
            file.write(extra.bytes())
    return paths


@attrs.frozen
class Server:
    """A running server: its root URL and what a client needs to trust it."""

    url: str
    certificates: Certificates | None

    @property
    def base_url(self) -> str:
        """The ``base_url`` of an OpenAI client."""
        return self.url + "/v1"

    def client_env(self) -> dict[str, str]:
        """The environment of a Python client process: it trusts the local CA under TLS."""
        env = dict(os.environ)
        if self.certificates is not None:
            env["SSL_CERT_FILE"] = str(self.certificates.ca)
            env.pop("SSL_CERT_DIR", None)
        return env

    def curl(self, *arguments: str) -> list[str]:
        """A curl command line with the credentials (and the CA, under TLS)."""
        command = ["curl", "-sS", "--fail", "-H", f"Authorization: Bearer {API_KEY}"]
        if self.certificates is not None:
            command += ["--cacert", str(self.certificates.ca)]
        return command + list(arguments)

    def delete(self, file_id: str) -> None:
        """Deletes a file, so that the server's disk does not fill across runs."""
        context = None
        if self.certificates is not None:
            context = ssl.create_default_context(cafile=str(self.certificates.ca))
        request = urllib.request.Request(
            f"{self.base_url}/files/{file_id}",
            method="DELETE",
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            response.read()


@contextlib.contextmanager
def running_server(tls: bool, scratch: pathlib.Path) -> Iterator[Server]:
    """Runs the local server in a subprocess, over TLS if asked; yields it once it listens."""
    # NOTE: the server keeps its files in memory (tmpfs) when it can, so that the disk's
    # writeback does not add its noise to what is measured: the clients.
    shm = pathlib.Path("/dev/shm")
    data_dir = tempfile.mkdtemp(prefix="aikit-bench-data-", dir=shm if shm.is_dir() else scratch)
    certificates = make_certificates(scratch) if tls else None
    command = [sys.executable, str(pathlib.Path(__file__).resolve()), "serve", "0", data_dir]
    if certificates is not None:
        command += [str(certificates.cert), str(certificates.key)]
    try:
        with serving(command) as (url, _):
            yield Server(url=url, certificates=certificates)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def serving(command: Sequence[str]) -> Iterator[tuple[str, int]]:
    """Runs a server process that prints ``serving URL`` once it listens; yields its URL and
    process id, and stops it with SIGTERM."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("serving "):
            raise RuntimeError(f"the benchmark server did not start: {line!r}")
        yield line.split()[1], process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@attrs.frozen
class Sample:
    """One run of one client."""

    transfer: float
    """Seconds of the transfer itself: inside the process for Python, the process for curl."""
    wall: float
    """Seconds of the whole process: start-up, imports, transfer, exit."""
    rss_mb: float
    """Peak resident memory of the process, in MB (10^6 bytes)."""
    cpu: float
    """CPU seconds of the process (user and system): what the client costs the machine."""
    call_cpu: float | None
    """CPU seconds of the call alone (``time.process_time()`` around it, every thread), for a
    Python client: without the interpreter's start-up, imports and exit."""
    stall_ms: float | None
    """The longest the event loop went without running a 5 ms ticker (async clients)."""
    output: dict[str, object]


def run_process(command: Sequence[str], env: dict[str, str] | None = None) -> Sample:
    """Runs a command, measuring its wall time and peak RSS (``wait4``'s rusage).

    A Python client prints one JSON line with ``transfer`` (and more); for any other command
    the transfer time is the process's wall time.
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed ({process.returncode}): {out[-500:]!r}")
    try:
        output = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        output = {}
    if not isinstance(output, dict):
        output = {"value": output}
    transfer = float(output.get("transfer", wall))
    stall = output.get("stall_ms")
    call_cpu = output.get("call_cpu")
    return Sample(
        transfer=transfer,
        wall=wall,
        rss_mb=usage.ru_maxrss * 1024 / 1e6,
        cpu=usage.ru_utime + usage.ru_stime,
        call_cpu=float(call_cpu) if isinstance(call_cpu, int | float) else None,
        stall_ms=float(stall) if isinstance(stall, int | float) else None,
        output=output,
    )


def python_client(*arguments: str) -> list[str]:
    """The command line of a Python client of ``_clients.py``."""
    return [sys.executable, str(CLIENTS), *arguments]


def parse_arguments(description: str) -> argparse.Namespace:
    """The command line shared by the transfer benchmarks."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--plain-only", action="store_true", help="skip the TLS runs")
    parser.add_argument(
        "--only", nargs="+", metavar="WORD", help="run only the clients whose name has a WORD"
    )
    return parser.parse_args()


def run_rounds(
    clients: Sequence[str], only: Sequence[str] | None, rounds: int, run: Callable[[str], Sample]
) -> dict[str, list[Sample]]:
    """Runs each client (curl always, the others as ``--only`` selects) once a round.

    Each round starts one client further along, so that no client always goes first.
    """
    names = [n for n in clients if not only or n.startswith("curl") or any(w in n for w in only)]
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            samples[name].append(run(name))
    return samples


def report(title: str, size: int, samples: dict[str, list[Sample]], reference: str) -> None:
    """Prints the medians of each client as a table, with transfer times relative to one."""
    print(f"\n{title}; ref = {reference}")
    header = (
        f"{'client':<31} {'transfer s':>10} {'vs ref':>7} {'MB/s':>5} "
        f"{'process s':>9} {'CPU s':>6} {'call CPU s':>10} {'peak RSS MB':>11} "
        f"{'loop stall ms':>13}"
    )
    print(header)
    print("-" * len(header))
    base = statistics.median(s.transfer for s in samples[reference])
    for name, runs in samples.items():
        transfer = statistics.median(s.transfer for s in runs)
        wall = statistics.median(s.wall for s in runs)
        rss = statistics.median(s.rss_mb for s in runs)
        cpu = statistics.median(s.cpu for s in runs)
        stalls = [s.stall_ms for s in runs if s.stall_ms is not None]
        stall = f"{statistics.median(stalls):.0f}" if stalls else "-"
        call_cpus = [s.call_cpu for s in runs if s.call_cpu is not None]
        call_cpu = f"{statistics.median(call_cpus):.3f}" if call_cpus else "-"
        print(
            f"{name:<31} {transfer:>10.3f} {transfer / base:>6.2f}x {size / transfer / 1e6:>5.0f} "
            f"{wall:>9.3f} {cpu:>6.2f} {call_cpu:>10} {rss:>11.0f} {stall:>13}"
        )
    rounds = min(len(runs) for runs in samples.values())
    print(f"(medians of {rounds} alternating rounds)")


def import_times(rounds: int) -> None:
    """Prints the median time of ``import aikit_files`` and ``import openai`` in a new process."""
    print("\nimport time (new process, median; the bare interpreter subtracted)")
    commands = {
        "python -c pass": "pass",
        "import aikit_files": "import aikit_files",
        "import openai": "import openai",
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, code in commands.items():
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times[name].append(time.perf_counter() - started)
    bare = statistics.median(times["python -c pass"])
    for name in ("import aikit_files", "import openai"):
        total = statistics.median(times[name])
        print(f"{name:<22} {(total - bare) * 1000:>7.0f} ms   (process {total * 1000:.0f} ms)")


def make_file(path: pathlib.Path, size: int) -> pathlib.Path:
    """Writes ``size`` random bytes (no sparse file: reads must cost what real data costs)."""
    if path.exists() and path.stat().st_size == size:
        return path
    with path.open("wb") as file:
        block = os.urandom(MiB)
        for _ in range(size // MiB):
            file.write(block)
        file.write(block[: size % MiB])
    return path


def _serve(port: int, data_dir: str, cert: str | None, key: str | None) -> None:
    import asyncio

    from aiohttp import web

    from aikit_files.server import create_app

    async def main() -> None:
        context = None
        if cert is not None and key is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
        runner = web.AppRunner(create_app(data_dir, api_key=API_KEY), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=context)
        await site.start()
        scheme = "https" if context is not None else "http"
        print(f"serving {scheme}://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


if __name__ == "__main__":
    _, command, port, data_dir, *tls = sys.argv
    assert command == "serve"
    cert, key = tls if tls else (None, None)
    _serve(int(port), data_dir, cert, key)
