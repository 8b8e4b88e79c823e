"""Load benchmark: calls per second of ``retrieve`` and a 4 KiB ``create``, at 1, 8 and 64 at once.

Three clients against one server process, in one run: aikit_files (``af.AsyncClient``), the
official SDK (``openai.AsyncOpenAI``) and bare aiohttp, the floor: one ``ClientSession`` with
aiohttp's default connector (as aikit_files' own session), the headers aikit_files sends,
hand-written requests (the same multipart body, with a fresh boundary per call) and the JSON
answer decoded; no model, retry loop, timeouts of its own, task per call, callbacks or checks.

Each measurement is a fresh client in a fresh event loop (asyncio's default loop, as users
run it) in this process: ``concurrency`` workers call in a closed loop, first for ``--warmup``
seconds, which opens the connections, then for ``--seconds``, counted. Every answer is checked
(the file's id, its 4096 bytes). The rounds alternate: within a round, each (operation,
concurrency) runs every client in turn, in an order that rotates from round to round. The
figures are medians over the rounds; ``spread`` is (max - min) / median over them: the noise of
a shared 2-core machine. ``client CPU`` is this process's CPU time per call, ``server CPU`` the
server's, ``server busy`` the server's share of one core while it was measured (near 100 %,
the server and not the client would set the pace).

``--instructions`` counts instead, once, the user-space instructions each client spends per
call under valgrind (callgrind): a figure that other work on the machine does not move, for
telling apart changes of a few per cent. The kernel's work (sockets, the same for every
client) is not counted, so ratios of instructions lie further from 1 than ratios of calls/s of
a client-bound run.

The server is ``_minimal_server.py``: aiohttp, the two routes, no authentication or storage, in
its own process. ``--server files-api`` runs the local Files API server instead. Measured here
with aikit_files and bare aiohttp at concurrency 64, it costs about what the minimal one does
on a ``retrieve`` (57-65 against 37-47 us of server CPU a call), but 400-465 us on a
``create`` (it writes, syncs and renames the file) against 53-73 us: it becomes the slow side,
at about 1,700 creates/s and 75-80 % of a core, below what either client reaches, so both read
the same figure (0.99x) where the minimal server shows them apart. The minimal server makes
the clients' differences visible, so it is the default. (uvloop under it saved it another
10-20 %; it stays under ~60 % of a core without, so the benchmark does without the
dependency.)

    .venv/bin/python benchmarks/load.py [--rounds 5] [--seconds 2] [--only aikit bare]
    .venv/bin/python benchmarks/load.py --instructions [--only aikit bare] [--calls 1200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import pathlib
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Final

import aiohttp
import attrs
import psutil
from _common import API_KEY, ChartRow, conditions, running_server, serving, write_chart

import aikit_files as af

HERE = pathlib.Path(__file__).resolve().parent
SIZE = 4096
DATA = bytes(range(256)) * (SIZE // 256)
FILENAME = "bench.bin"
PURPOSE: Final = "assistants"
OPERATIONS = ("retrieve", "create")
CONCURRENCY = (1, 8, 64)
#: The clients, in the order of the table; the first is the one the ratios are of.
CLIENTS = ("aikit_files", "openai", "bare aiohttp")

#: One call of an operation; it checks its answer and raises if it is wrong.
Call = Callable[[], Awaitable[None]]


@attrs.frozen
class Calls:
    """A client's two operations, ready to be called over and over."""

    retrieve: Call
    create: Call


def _check(file_id: object, size: object, expected_id: str | None) -> None:
    if size != SIZE or (expected_id is not None and file_id != expected_id):
        raise RuntimeError(f"unexpected answer: id {file_id!r}, {size!r} bytes")


@contextlib.asynccontextmanager
async def aikit_calls(base_url: str, file_id: str) -> AsyncIterator[Calls]:
    async with af.AsyncClient(API_KEY, base_url=base_url) as client:

        async def retrieve() -> None:
            file = await client.files.retrieve(file_id)
            _check(file.id, file.bytes, file_id)

        async def create() -> None:
            file = await client.files.create(DATA, PURPOSE, filename=FILENAME)
            _check(file.id, file.bytes, None)

        yield Calls(retrieve, create)


@contextlib.asynccontextmanager
async def openai_calls(base_url: str, file_id: str) -> AsyncIterator[Calls]:
    import openai

    async with openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url) as client:

        async def retrieve() -> None:
            file = await client.files.retrieve(file_id)
            _check(file.id, file.bytes, file_id)

        async def create() -> None:
            file = await client.files.create(file=(FILENAME, DATA), purpose=PURPOSE)
            _check(file.id, file.bytes, None)

        yield Calls(retrieve, create)


@contextlib.asynccontextmanager
async def bare_calls(base_url: str, file_id: str) -> AsyncIterator[Calls]:
    # NOTE: like with like: aiohttp's default connector (limit=100), as aikit_files' own
    # session, and the headers aikit_files sends.
    headers = {
        "User-Agent": "aikit-files",
        "Authorization": f"Bearer {API_KEY}",
        "Accept": "application/json",
    }
    file_url = f"{base_url}/files/{file_id}"
    files_url = f"{base_url}/files"
    async with aiohttp.ClientSession() as session:

        async def retrieve() -> None:
            async with session.get(file_url, headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
                file = json.loads(await response.read())
            _check(file["id"], file["bytes"], file_id)

        async def create() -> None:
            boundary = secrets.token_hex(16)
            body = b"".join(
                (
                    f"--{boundary}\r\n"
                    f'Content-Disposition: form-data; name="purpose"\r\n\r\n{PURPOSE}\r\n'
                    f"--{boundary}\r\n"
                    f'Content-Disposition: form-data; name="file"; filename="{FILENAME}"\r\n'
                    f"Content-Type: application/octet-stream\r\n\r\n".encode(),
                    DATA,
                    f"\r\n--{boundary}--\r\n".encode(),
                )
            )
            form_headers = headers | {"Content-Type": f"multipart/form-data; boundary={boundary}"}
            async with session.post(files_url, data=body, headers=form_headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
                file = json.loads(await response.read())
            _check(file["id"], file["bytes"], None)

        yield Calls(retrieve, create)


CLIENT_CALLS: dict[str, Callable[[str, str], contextlib.AbstractAsyncContextManager[Calls]]] = {
    "aikit_files": aikit_calls,
    "openai": openai_calls,
    "bare aiohttp": bare_calls,
}


@attrs.frozen
class Sample:
    """One measurement of one client, operation and concurrency."""

    calls: int
    seconds: float
    cpu: float
    """CPU seconds of this process (the client) meanwhile."""
    server_cpu: float
    """CPU seconds of the server process meanwhile."""

    @property
    def rate(self) -> float:
        return self.calls / self.seconds


async def drive(call: Call, concurrency: int, seconds: float) -> tuple[int, float]:
    """Runs ``concurrency`` workers calling in a closed loop for ``seconds``; returns the calls
    made and the time they took (the last calls in flight are waited for and counted)."""
    count = 0
    stop = False

    async def worker() -> None:
        nonlocal count
        while not stop:
            await call()
            count += 1

    started = time.perf_counter()
    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await asyncio.sleep(seconds)
    stop = True
    await asyncio.gather(*workers)
    return count, time.perf_counter() - started


def measure(
    client: str,
    operation: str,
    concurrency: int,
    base_url: str,
    file_id: str,
    server: psutil.Process,
    seconds: float,
    warmup: float,
) -> Sample:
    """Measures one client's calls per second at one concurrency, in a fresh event loop."""

    async def run() -> Sample:
        async with CLIENT_CALLS[client](base_url, file_id) as calls:
            call: Call = getattr(calls, operation)
            await drive(call, concurrency, warmup)
            gc.collect()
            cpu = time.process_time()
            server_cpu = _cpu(server)
            count, elapsed = await drive(call, concurrency, seconds)
            return Sample(
                calls=count,
                seconds=elapsed,
                cpu=time.process_time() - cpu,
                server_cpu=_cpu(server) - server_cpu,
            )

    return asyncio.run(run())


def run_calls(
    client: str, operation: str, concurrency: int, calls: int, base_url: str, file_id: str
) -> None:
    """Makes exactly ``calls`` calls, ``concurrency`` at a time, in a fresh event loop."""

    async def run() -> None:
        async with CLIENT_CALLS[client](base_url, file_id) as made:
            call: Call = getattr(made, operation)
            left = calls

            async def worker() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    await call()

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    asyncio.run(run())


def instructions_per_call(
    client: str, operation: str, concurrency: int, calls: int, base_url: str, file_id: str
) -> float:
    """The user-space instructions one call costs the client, counted by valgrind (callgrind):
    a process making ``calls`` calls less one making a sixth of them, per call of the
    difference, so that start-up, imports and connecting cancel out."""
    counts = []
    few = calls // 6
    for n in (few, calls):
        command = [
            "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            sys.executable, __file__, "--run-calls", client, operation, str(concurrency), str(n),
            base_url, file_id,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        collected = re.search(r"Collected : (\d+)", done.stderr)
        if collected is None:
            raise RuntimeError(f"callgrind reported no count: {done.stderr[-500:]}")
        counts.append(int(collected.group(1)))
    return (counts[1] - counts[0]) / (calls - few)


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def rotated(names: Sequence[str], by: int) -> list[str]:
    """``names`` starting ``by`` places further along, so that no client always goes first."""
    by %= len(names)
    return [*names[by:], *names[:by]]


def run_rounds(
    clients: Sequence[str],
    operations: Sequence[str],
    concurrencies: Sequence[int],
    rounds: int,
    measure_one: Callable[[str, str, int], Sample],
) -> dict[tuple[str, str, int], list[Sample]]:
    """Measures every (client, operation, concurrency) once a round; within a round, each
    (operation, concurrency) runs every client in turn, in an order that rotates by round."""
    samples: dict[tuple[str, str, int], list[Sample]] = {}
    for round_ in range(rounds):
        for operation in operations:
            for concurrency in concurrencies:
                for client in rotated(clients, round_):
                    sample = measure_one(client, operation, concurrency)
                    samples.setdefault((client, operation, concurrency), []).append(sample)
        print(f"round {round_ + 1}/{rounds} done", file=sys.stderr, flush=True)
    return samples


def spread(values: Sequence[float]) -> float:
    """(max - min) / median: how far apart the rounds were."""
    return (max(values) - min(values)) / statistics.median(values)


def report(
    title: str,
    samples: dict[tuple[str, str, int], list[Sample]],
    clients: Sequence[str],
    operations: Sequence[str],
    concurrencies: Sequence[int],
) -> None:
    """Prints calls/s per client, operation and concurrency, then aikit_files' ratios."""
    rounds = min(len(runs) for runs in samples.values())
    print(f"\n{title}; medians of {rounds} alternating rounds")
    header = (
        f"{'operation':<9} {'conc':>4}  {'client':<13} {'calls/s':>8} {'spread':>7} "
        f"{'client CPU us/call':>18} {'server CPU us/call':>18} {'server busy':>11}"
    )
    print(header)
    print("-" * len(header))
    rates: dict[tuple[str, str, int], float] = {}
    for operation in operations:
        for concurrency in concurrencies:
            for client in clients:
                runs = samples[client, operation, concurrency]
                rate = statistics.median(s.rate for s in runs)
                rates[client, operation, concurrency] = rate
                cpu = statistics.median(s.cpu / s.calls * 1e6 for s in runs)
                server = statistics.median(s.server_cpu / s.calls * 1e6 for s in runs)
                busy = statistics.median(s.server_cpu / s.seconds for s in runs)
                print(
                    f"{operation:<9} {concurrency:>4}  {client:<13} {rate:>8.0f} "
                    f"{spread([s.rate for s in runs]):>6.0%} {cpu:>18.0f} {server:>18.0f} "
                    f"{busy:>10.0%}"
                )
    reference, *peers = clients
    if not peers or reference != CLIENTS[0]:
        return
    print(f"\nratios of calls/s ({reference} / peer)")
    print(f"{'operation':<9} {'conc':>4}  " + " ".join(f"{'/ ' + p:>15}" for p in peers))
    for operation in operations:
        for concurrency in concurrencies:
            ours = rates[reference, operation, concurrency]
            ratios = " ".join(
                f"{ours / rates[peer, operation, concurrency]:>14.2f}x" for peer in peers
            )
            print(f"{operation:<9} {concurrency:>4}  {ratios}")


@contextlib.contextmanager
def server_for(kind: str) -> Iterator[tuple[str, str, int]]:
    """Runs the server; yields its OpenAI base URL, the id of a file to retrieve, and its pid."""
    if kind == "minimal":
        with serving([sys.executable, str(HERE / "_minimal_server.py"), "0"]) as (url, pid):
            from _minimal_server import FILE

            yield url + "/v1", str(FILE["id"]), pid
        return
    with (
        tempfile.TemporaryDirectory(prefix="aikit-bench-") as scratch,
        running_server(False, pathlib.Path(scratch)) as server,
        af.Client(API_KEY, base_url=server.base_url) as client,
    ):
        file = client.files.create(DATA, PURPOSE, filename=FILENAME)
        assert isinstance(file, af.OpenAIFile)
        yield server.base_url, file.id, _server_pid(server.url)


def _server_pid(url: str) -> int:
    """The pid of the child process listening on ``url``'s port."""
    port = int(url.rsplit(":", 1)[1])
    for child in psutil.Process().children():
        if any(c.laddr and c.laddr.port == port for c in child.net_connections("tcp")):
            return int(child.pid)
    raise RuntimeError(f"no child process listens on port {port}")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-calls", nargs=6, help=argparse.SUPPRESS)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count each client's instructions per call under valgrind instead (slow; one run)",
    )
    parser.add_argument(
        "--calls", type=int, default=1200, help="calls of the bigger --instructions run"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0, help="measured time of each run")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured time before it")
    parser.add_argument(
        "--only", nargs="+", metavar="WORD", help="run only the clients whose name has a WORD"
    )
    parser.add_argument("--operations", nargs="+", choices=OPERATIONS, default=list(OPERATIONS))
    parser.add_argument("--concurrency", nargs="+", type=int, default=list(CONCURRENCY))
    parser.add_argument(
        "--server",
        choices=("minimal", "files-api"),
        default="minimal",
        help="the minimal aiohttp app (default) or the local Files API server",
    )
    return parser.parse_args()


def count_instructions(
    clients: Sequence[str],
    operations: Sequence[str],
    concurrencies: Sequence[int],
    calls: int,
    base_url: str,
    file_id: str,
) -> None:
    """Prints each client's instructions per call, and aikit_files' ratio to each peer."""
    print(f"\nuser-space instructions per call (valgrind), {calls} calls less {calls // 6}")
    reference, *peers = clients
    ratios = peers if reference == CLIENTS[0] else []
    print(
        f"{'operation':<9} {'conc':>4}  "
        + " ".join(f"{c:>13}" for c in clients)
        + "".join(f" {'/ ' + p:>15}" for p in ratios)
    )
    for operation in operations:
        for concurrency in concurrencies:
            counts = {
                c: instructions_per_call(c, operation, concurrency, calls, base_url, file_id)
                for c in clients
            }
            # NOTE: the ratio of calls/s a client-bound run would show: the peer's cost over ours.
            print(
                f"{operation:<9} {concurrency:>4}  "
                + " ".join(f"{n:>13,.0f}" for n in counts.values())
                + "".join(f" {counts[p] / counts[reference]:>14.2f}x" for p in ratios)
            )


def main() -> None:
    args = parse_arguments()
    if args.run_calls:
        client, operation, concurrency, calls, base_url, file_id = args.run_calls
        run_calls(client, operation, int(concurrency), int(calls), base_url, file_id)
        return
    only: list[str] | None = args.only
    clients = [c for c in CLIENTS if not only or any(w in c for w in only)]
    with server_for(args.server) as (base_url, file_id, pid):
        if args.instructions:
            count_instructions(
                clients, args.operations, args.concurrency, args.calls, base_url, file_id
            )
            return
        server = psutil.Process(pid)

        def measure_one(client: str, operation: str, concurrency: int) -> Sample:
            return measure(
                client,
                operation,
                concurrency,
                base_url,
                file_id,
                server,
                args.seconds,
                args.warmup,
            )

        samples = run_rounds(clients, args.operations, args.concurrency, args.rounds, measure_one)
    title = (
        f"{args.server} server, plain HTTP on loopback, {args.seconds:g} s a run; "
        f"create sends {SIZE} bytes"
    )
    report(title, samples, clients, args.operations, args.concurrency)
    chart(title, samples, clients, args.operations, args.concurrency)


def chart(
    title: str,
    samples: dict[tuple[str, str, int], list[Sample]],
    clients: Sequence[str],
    operations: Sequence[str],
    concurrencies: Sequence[int],
) -> None:
    """Draws calls/s and the client's CPU per call of each case in ``charts/load.png``."""
    rows = []
    for operation in operations:
        for concurrency in concurrencies:
            for client in clients:
                runs = samples[client, operation, concurrency]
                rates = [s.rate for s in runs]
                cpu = [s.cpu / s.calls * 1e6 for s in runs]
                rows.append(
                    ChartRow(
                        label=f"{operation} x{concurrency}: {client}",
                        seconds=statistics.median(rates),
                        memory=statistics.median(cpu),
                        seconds_range=(min(rates), max(rates)),
                        memory_range=(min(cpu), max(cpu)),
                        group=client,
                    )
                )
    write_chart(
        "load",
        f"load: {title}; {conditions()}",
        rows,
        seconds_label="calls/s (median; bar: min-max)",
        memory_label="client CPU us a call (median; bar: min-max)",
    )


if __name__ == "__main__":
    main()
