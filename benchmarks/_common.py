"""Shared pieces of the transfer benchmarks: the server, certificates, process measurement, tables.

The local Files API server runs in a subprocess, over plain HTTP or over TLS with a certificate
from a local CA (trustme): real traffic is HTTPS. Each client runs in a process of its own, so
its peak RSS is its own; ``_clients.py`` holds the Python clients.

Each run also measures the server's CPU and peak RSS (from ``/proc``), and how busy the rest of
the machine was meanwhile: the machine has 2 cores and other work loads it. ``write_chart``
draws a table of results as ``charts/<name>.png`` (matplotlib, imported only then).

Run as a script, this module is the server: ``python _common.py serve PORT DATA_DIR [CERT KEY]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
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
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence

import attrs

API_KEY = "sk-bench-local"
MiB = 1024 * 1024
HERE = pathlib.Path(__file__).resolve().parent
CLIENTS = HERE / "_clients.py"
CHARTS = HERE / "charts"
#: What a server's data folder on tmpfs must keep free beyond what a run stores.
SHM_MARGIN = 512 * MiB
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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
    """A running server: its root URL, what a client needs to trust it, and its process."""

    url: str
    certificates: Certificates | None
    pid: int | None = None
    """The server's process, whose CPU and peak RSS ``run_process`` measures."""
    storage: str = ""
    """Where the server keeps its files: ``tmpfs (/dev/shm)`` or ``disk (PATH)``."""

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

    def cpu_seconds(self) -> float | None:
        """CPU seconds the server's process has used so far (all its threads), if known."""
        return None if self.pid is None else process_cpu_seconds(self.pid)

    def reset_peak_rss(self) -> bool:
        """Resets the server's peak RSS to its current RSS (Linux ``clear_refs``); False if the
        kernel would not."""
        if self.pid is None:
            return False
        try:
            pathlib.Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def peak_rss_mb(self) -> float | None:
        """The server's peak RSS (``VmHWM``) in MB, if known."""
        return None if self.pid is None else peak_rss_mb(self.pid)


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process, all its threads (``/proc/PID/stat``)."""
    stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    # NOTE: the command name (field 2) may hold spaces: count the fields after its ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident set size (``VmHWM``), in MB (10^6 bytes)."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (``/proc/stat``: all but idle and
    iowait; guest time is already inside user time)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


def medians_of(rounds: int) -> str:
    """``medians of 3 rounds``, ``one run``: what a table's figures are."""
    return "one run" if rounds == 1 else f"medians of {rounds} rounds"


def conditions() -> str:
    """The date, the machine's cores and its load averages: how noisy a run may have been."""
    one, five, fifteen = os.getloadavg()
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return f"{now}, {os.cpu_count()} cores, load average {one:.2f} {five:.2f} {fifteen:.2f}"


def server_data_root(scratch: pathlib.Path, room: int) -> tuple[pathlib.Path, str]:
    """Where a server that may hold ``room`` bytes at once keeps its files, and its name.

    NOTE: in memory (tmpfs) when it fits, with ``SHM_MARGIN`` to spare, so that the disk's
    writeback does not add its noise to what is measured: the clients. Otherwise ``scratch``.
    """
    shm = pathlib.Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free >= room + SHM_MARGIN:
        return shm, "tmpfs (/dev/shm)"
    return scratch, f"disk ({scratch})"


@contextlib.contextmanager
def running_server(tls: bool, scratch: pathlib.Path, *, room: int = 0) -> Iterator[Server]:
    """Runs the local server in a subprocess, over TLS if asked; yields it once it listens.

    Args:
        tls: serve HTTPS, with a certificate of a local CA written into ``scratch``.
        scratch: a folder for the certificates, and for the files if tmpfs lacks ``room``.
        room: the most bytes the server may hold at once (a large upload's Parts and the file
            they make count twice).
    """
    root, storage = server_data_root(scratch, room)
    data_dir = tempfile.mkdtemp(prefix="aikit-bench-data-", dir=root)
    certificates = make_certificates(scratch) if tls else None
    command = [sys.executable, str(pathlib.Path(__file__).resolve()), "serve", "0", data_dir]
    if certificates is not None:
        command += [str(certificates.cert), str(certificates.key)]
    try:
        with serving(command) as (url, pid):
            yield Server(url=url, certificates=certificates, pid=pid, storage=storage)
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
    server_cpu: float | None = None
    """CPU seconds the server used while the process ran, when the server was given."""
    server_rss_mb: float | None = None
    """The server's peak RSS while the process ran, in MB, when the server was given."""
    machine_cpu: float | None = None
    """CPU seconds all cores were busy while the process ran: the client, the server, the
    kernel's loopback work that no process is charged for, and whatever else ran."""
    machine_seconds: float | None = None
    """The seconds over which ``machine_cpu`` was measured."""

    @property
    def others_share(self) -> float | None:
        """The share of the machine's CPU capacity that went neither to the client nor to the
        server (when measured) during the run: other work, and uncharged kernel time."""
        if self.machine_cpu is None:
            return None
        ours = self.cpu + (self.server_cpu or 0.0)
        seconds = self.machine_seconds or self.wall
        return max(self.machine_cpu - ours, 0.0) / (seconds * (os.cpu_count() or 1))


#: Runs a command (``argv[2:]``) and writes its wall time and rusage to the pipe ``argv[1]``: see
#: ``run_process``. Run with ``python -I -S`` so that it stays small (about 10 MB).
_LAUNCHER = """
import json, os, sys, time
report = int(sys.argv[1])
os.set_inheritable(report, False)
started = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
figures = [os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss, usage.ru_utime + usage.ru_stime]
os.write(report, json.dumps(figures).encode())
"""


def run_process(
    command: Sequence[str], env: dict[str, str] | None = None, server: Server | None = None
) -> Sample:
    """Runs a command, measuring its wall time, CPU and peak RSS (``wait4``'s rusage).

    A Python client prints one JSON line with ``transfer`` (and more); for any other command
    the transfer time is the process's wall time. With ``server``, its CPU and peak RSS over
    the run are measured too.

    NOTE: the command is started by a small launcher process, which reports its rusage. A
    process started by this one directly would report at least this one's own peak RSS: the
    kernel carries the peak RSS of the memory a process had before its ``exec`` into its
    ``ru_maxrss``, and ``subprocess`` starts a child in this process's memory (vfork). This
    process grows (certificates, files hashed, figures), the launcher stays at about 10 MB:
    a figure under that would read as that (curl takes about 12 MB, a Python client 35 or more).
    """
    server_cpu_started = server.cpu_seconds() if server is not None else None
    rss_resets = server is not None and server.reset_peak_rss()
    machine_started = machine_busy_seconds()
    started = time.perf_counter()
    report_read, report_write = os.pipe()
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(report_write), *command]
    try:
        process = subprocess.Popen(
            launcher, stdout=subprocess.PIPE, env=env, pass_fds=(report_write,)
        )
        os.close(report_write)
        assert process.stdout is not None
        with process.stdout, os.fdopen(report_read, "rb") as report_file:
            out = process.stdout.read()
            report = report_file.read()
        # The launcher's rusage holds its command's, which it waited for.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        with contextlib.suppress(OSError):
            os.close(report_write)
    wall_outside = time.perf_counter() - started
    machine_cpu = machine_busy_seconds() - machine_started
    server_cpu = server_rss = None
    if server is not None and server_cpu_started is not None:
        server_cpu = (server.cpu_seconds() or 0.0) - server_cpu_started
        server_rss = server.peak_rss_mb() if rss_resets else None
    if process.returncode != 0 or not report:
        raise RuntimeError(f"{command[:4]} could not be run ({process.returncode})")
    returncode, wall, maxrss_kb, cpu = json.loads(report)
    if returncode != 0:
        raise RuntimeError(f"{command[:4]} failed ({returncode}): {out[-500:]!r}")
    # NOTE: the launcher's own CPU (its start-up) is no one's load: left out of the machine's.
    machine_cpu -= max(usage.ru_utime + usage.ru_stime - float(cpu), 0.0)
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
        wall=float(wall),
        rss_mb=int(maxrss_kb) * 1024 / 1e6,
        cpu=float(cpu),
        call_cpu=float(call_cpu) if isinstance(call_cpu, int | float) else None,
        stall_ms=float(stall) if isinstance(stall, int | float) else None,
        output=output,
        server_cpu=server_cpu,
        server_rss_mb=server_rss,
        machine_cpu=machine_cpu,
        # NOTE: the machine's CPU is measured over the launcher's run too (a few tens of ms).
        machine_seconds=wall_outside,
    )


def python_client(*arguments: str) -> list[str]:
    """The command line of a Python client of ``_clients.py``."""
    return [sys.executable, str(CLIENTS), *arguments]


def argument_parser(description: str, size_mib: int = 512) -> argparse.ArgumentParser:
    """The command line shared by the transfer benchmarks, to add to."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size-mib", type=int, default=size_mib)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--plain-only", action="store_true", help="skip the TLS runs")
    parser.add_argument(
        "--only", nargs="+", metavar="WORD", help="run only the clients whose name has a WORD"
    )
    return parser


def parse_arguments(description: str) -> argparse.Namespace:
    """The command line shared by the transfer benchmarks."""
    return argument_parser(description).parse_args()


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
    """Prints the medians of each client as a table, with transfer times relative to one.

    Beside each median transfer time, its range over the rounds (min-max); the server's
    columns appear when it was measured; ``other CPU %`` is the median share of the machine's
    CPU that went to neither the client nor the server (other work, uncharged kernel time).
    """
    print(f"\n{title}; ref = {reference}")
    with_server = any(s.server_cpu is not None for runs in samples.values() for s in runs)
    header = (
        f"{'client':<31} {'transfer s':>10} {'min-max s':>13} {'vs ref':>7} {'MB/s':>5} "
        f"{'process s':>9} {'CPU s':>6} {'call CPU s':>10} "
        + (f"{'server CPU s':>12} " if with_server else "")
        + f"{'peak RSS MB':>11} "
        + (f"{'server RSS MB':>13} " if with_server else "")
        + f"{'loop stall ms':>13} {'other CPU %':>11}"
    )
    print(header)
    print("-" * len(header))
    base = statistics.median(s.transfer for s in samples[reference])
    for name, runs in samples.items():
        transfer = statistics.median(s.transfer for s in runs)
        spread = f"{min(s.transfer for s in runs):.2f}-{max(s.transfer for s in runs):.2f}"
        wall = statistics.median(s.wall for s in runs)
        rss = statistics.median(s.rss_mb for s in runs)
        cpu = statistics.median(s.cpu for s in runs)
        line = (
            f"{name:<31} {transfer:>10.3f} {spread:>13} {transfer / base:>6.2f}x "
            f"{size / transfer / 1e6:>5.0f} {wall:>9.3f} {cpu:>6.2f} "
            f"{_median_of(runs, 'call_cpu', '.3f'):>10} "
        )
        if with_server:
            line += f"{_median_of(runs, 'server_cpu', '.2f'):>12} "
        line += f"{rss:>11.0f} "
        if with_server:
            line += f"{_median_of(runs, 'server_rss_mb', '.0f'):>13} "
        others = [s.others_share for s in runs if s.others_share is not None]
        other = f"{statistics.median(others) * 100:.0f}" if others else "-"
        line += f"{_median_of(runs, 'stall_ms', '.0f'):>13} {other:>11}"
        print(line)
    rounds = min(len(runs) for runs in samples.values())
    print(f"({medians_of(rounds)}, alternating; {conditions()})")


def _median_of(runs: Sequence[Sample], field: str, spec: str) -> str:
    values = [v for s in runs if isinstance(v := getattr(s, field), int | float)]
    return format(statistics.median(values), spec) if values else "-"


@attrs.frozen
class ChartRow:
    """One bar of each panel of a chart: a client (or a case) and its figures."""

    label: str
    seconds: float
    """The first panel's figure: a median time (seconds, or the unit the chart names)."""
    memory: float | None
    """The second panel's figure: a peak RSS (MB, or the unit the chart names); None: no bar."""
    seconds_range: tuple[float, float] | None = None
    """The first figure's min and max over the rounds, drawn as an error bar."""
    memory_range: tuple[float, float] | None = None
    group: str | None = None
    """Rows of one group share a colour, named in a legend (say, plain HTTP and TLS)."""


def chart_rows(samples: Mapping[str, Sequence[Sample]], group: str | None = None) -> list[ChartRow]:
    """A chart's rows from ``run_rounds``' samples: the medians of transfer time and peak RSS,
    and their ranges."""
    rows = []
    for name, runs in samples.items():
        seconds = [s.transfer for s in runs]
        memory = [s.rss_mb for s in runs]
        rows.append(
            ChartRow(
                label=name,
                seconds=statistics.median(seconds),
                memory=statistics.median(memory),
                seconds_range=(min(seconds), max(seconds)),
                memory_range=(min(memory), max(memory)),
                group=group,
            )
        )
    return rows


def write_chart(
    name: str,
    title: str,
    rows: Sequence[ChartRow],
    *,
    seconds_label: str = "transfer s (median; bar: min-max)",
    memory_label: str = "peak RSS MB (median; bar: min-max)",
    memory_target: tuple[float, str] | None = None,
) -> pathlib.Path:
    """Draws two panels of horizontal bars, time and memory, one bar per row, and writes them
    to ``charts/<name>.png`` beside this module; returns the path (and prints it).

    Every benchmark charts its figures through this; one that keeps its own figures (not
    ``Sample``s) builds ``ChartRow``s itself, and names its units with the two labels.

    Args:
        name: the file's name, without ``.png``: ``upload-http``, ``load``...
        title: the benchmark and its conditions (size, scheme, rounds, date, load).
        rows: the bars, top to bottom.
        seconds_label: the first panel's axis.
        memory_label: the second panel's axis.
        memory_target: a value to mark on the memory panel with a dashed line, and its name.
    """
    # NOTE: imported here, so that a benchmark's imports (and its clients') stay quick.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.patches import Patch

    groups = list(dict.fromkeys(row.group for row in rows))
    colours = dict(zip(groups, ["#4C72B0", "#DD8452", "#55A868", "#C44E52"] * 4, strict=False))
    figure, panels = pyplot.subplots(
        1, 2, figsize=(10, 1.4 + 0.42 * len(rows)), sharey=True, layout="constrained"
    )
    positions = list(range(len(rows)))
    figures: list[tuple[list[float | None], list[tuple[float, float] | None]]] = [
        ([row.seconds for row in rows], [row.seconds_range for row in rows]),
        ([row.memory for row in rows], [row.memory_range for row in rows]),
    ]
    for panel, label, (figures_of, ranges) in zip(
        panels, (seconds_label, memory_label), figures, strict=True
    ):
        values = [value or 0.0 for value in figures_of]
        low = [v - (r or (v, v))[0] for v, r in zip(values, ranges, strict=True)]
        high = [(r or (v, v))[1] - v for v, r in zip(values, ranges, strict=True)]
        panel.barh(
            positions,
            values,
            xerr=[low, high],
            color=[colours[row.group] for row in rows],
            error_kw={"elinewidth": 1, "capsize": 2, "ecolor": "#333333"},
        )
        top = max((v + e for v, e in zip(values, high, strict=True)), default=1.0) or 1.0
        for position, raw, value, above in zip(positions, figures_of, values, high, strict=True):
            text = "n/a" if raw is None else f"{value:.3g}"
            panel.text(value + above + top * 0.02, position, text, va="center", fontsize=8)
        if panel is panels[1] and memory_target is not None:
            top = max(top, memory_target[0])
            panel.axvline(memory_target[0], color="#C44E52", linestyle="--", linewidth=1)
            panel.text(memory_target[0], -0.6, f" {memory_target[1]}", color="#C44E52", fontsize=8)
        panel.set_xlim(0, top * 1.18)
        panel.set_xlabel(label, fontsize=9)
        panel.grid(axis="x", alpha=0.3)
        panel.tick_params(labelsize=8)
    panels[0].set_yticks(positions, [row.label for row in rows])
    panels[0].invert_yaxis()
    if len(groups) > 1:
        handles = [Patch(color=colours[group], label=str(group)) for group in groups]
        figure.legend(handles=handles, fontsize=8, loc="outside lower center", ncols=len(groups))
    figure.suptitle(textwrap.fill(title, 110), fontsize=10)
    CHARTS.mkdir(exist_ok=True)
    path = CHARTS / f"{name}.png"
    figure.savefig(path, dpi=90)
    pyplot.close(figure)
    print(f"chart: {path.relative_to(HERE.parent)}")
    return path


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
