"""Large upload benchmark: a 2 GiB file through the Uploads API, by aikit_files and the SDK.

aikit_files' ``create`` sends a file above ``upload_threshold`` (512 MiB by default; just below
the file's size for a smaller one) as Parts of ``part_size`` (64 MiB) from byte ranges of the
file, with 1, 2, 4 and 8 Parts in flight (``max_concurrency``), its MD5 computed meanwhile in a
worker thread and sent with ``complete``. The official SDK's ``uploads.upload_file_chunked``
(``AsyncOpenAI``) sends its Parts one after another, each read whole into memory, of its
default size (64 MiB: the like-for-like figure too; ``--part-mib`` other than 64 adds a run of
the SDK with that size); the file's MD5, computed beforehand, goes with its ``complete``.

Over plain HTTP and over TLS, in alternating rounds, each client in a process of its own: the
median transfer time and its range, process CPU and the call's CPU, the server's CPU and peak
RSS during the run, the client's peak RSS, the longest event-loop stall (a 5 ms ticker), and the
share of the machine's CPU that went elsewhere. Each run is checked: the server completes an
Upload only when its Parts hold the announced bytes and the MD5 sent matches them (it hashes
them as it assembles the file), and the file must have the file's size; then it is deleted.

The server keeps its files on tmpfs (/dev/shm) when the Parts and the file they make fit there
(twice the file, and the Parts in flight), otherwise in the scratch folder on disk: the output
says which.

    .venv/bin/python benchmarks/upload_large.py [--size-mib 2048] [--rounds 3] [--part-mib 64]
"""

from __future__ import annotations

import hashlib
import pathlib
import shutil
import statistics
import sys
import tempfile

import attrs
from _common import (
    SHM_MARGIN,
    ChartRow,
    MiB,
    Sample,
    Server,
    argument_parser,
    chart_rows,
    conditions,
    make_file,
    medians_of,
    python_client,
    report,
    run_process,
    run_rounds,
    running_server,
    server_data_root,
    write_chart,
)

CONCURRENCIES = (1, 2, 4, 8)
#: The Parts' size of the official SDK's ``upload_file_chunked`` when it is given none.
SDK_PART_SIZE = 64 * MiB
#: aikit_files' default ``upload_threshold``: the limit of ``POST /files``.
DEFAULT_THRESHOLD = 512 * MiB
SDK = "openai upload_file_chunked"
#: A target: the peak RSS of every aikit_files run, at any size and concurrency.
RSS_TARGET_MIB = 64


def aikit_name(concurrency: int) -> str:
    return f"aikit_files, {concurrency} in flight"


def client_arguments(
    path: pathlib.Path, size: int, part_size: int, md5: str
) -> dict[str, list[str]]:
    """Each client's name, and its ``_clients.py`` arguments after the base URL."""
    threshold = "default" if size > DEFAULT_THRESHOLD else str(size - 1)
    clients = {
        aikit_name(n): ["aikit-upload-large", str(path), str(n), str(part_size), threshold]
        for n in CONCURRENCIES
    }
    clients[SDK] = ["openai-upload-chunked", str(path), md5, "default"]
    if part_size != SDK_PART_SIZE:
        clients[f"{SDK}, {part_size // MiB} MiB"] = [*clients[SDK][:-1], str(part_size)]
    return clients


def upload_once(server: Server, arguments: list[str], size: int) -> Sample:
    """Runs one upload, checks the file the server made, then deletes it."""
    name, *rest = arguments
    command = python_client(name, server.base_url, *rest)
    sample = run_process(command, server.client_env(), server=server)
    file = sample.output
    if file.get("bytes") != size:
        raise RuntimeError(f"{name}: the server's file has {file.get('bytes')} bytes, not {size}")
    server.delete(str(file["id"]))
    return sample


def md5_of(path: pathlib.Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        while block := file.read(4 * MiB):
            digest.update(block)
    return digest.hexdigest()


def check_room(scratch: pathlib.Path, size: int, server_room: int) -> str:
    """Checks that the source file (and the server's files, if not on tmpfs) fit; says where
    each goes. Exits when they do not."""
    root, storage = server_data_root(scratch, server_room)
    needed = size + (server_room if root == scratch else 0) + SHM_MARGIN
    free = shutil.disk_usage(scratch).free
    shm_free = shutil.disk_usage("/dev/shm").free if pathlib.Path("/dev/shm").is_dir() else 0
    print(
        f"source file: {scratch} ({free / 2**30:.1f} GiB free); server files: {storage} "
        f"(needs up to {server_room / 2**30:.1f} GiB; /dev/shm has {shm_free / 2**30:.1f} GiB "
        "free)"
    )
    if free < needed:
        sys.exit(f"not enough room in {scratch}: {needed / 2**30:.1f} GiB needed")
    return storage


def parts_sent(sample: Sample) -> float | None:
    """When an aikit_files run had sent the last byte of its Parts, in seconds from the start."""
    value = sample.output.get("parts_sent")
    return float(value) if isinstance(value, int | float) else None


def time_split(samples: dict[str, list[Sample]]) -> None:
    """Prints where each client's time and the machine's CPU went, as medians."""
    print(
        f"{'where the time goes':<31} {'transfer s':>10} {'Parts sent s':>12} "
        f"{'after last byte s':>17} {'client CPU s':>12} {'server CPU s':>12} {'cores busy':>10}"
    )
    for name, runs in samples.items():
        transfer = statistics.median(s.transfer for s in runs)
        sent = [value for s in runs if (value := parts_sent(s)) is not None]
        tails = [s.transfer - value for s in runs if (value := parts_sent(s)) is not None]
        call_cpu = statistics.median(s.call_cpu or 0.0 for s in runs)
        server_cpu = statistics.median(s.server_cpu or 0.0 for s in runs)
        busy = statistics.median(
            ((s.call_cpu or 0.0) + (s.server_cpu or 0.0)) / s.transfer for s in runs
        )
        parts = f"{statistics.median(sent):.2f}" if sent else "-"
        tail = f"{statistics.median(tails):.2f}" if tails else "-"
        print(
            f"{name:<31} {transfer:>10.2f} {parts:>12} {tail:>17} {call_cpu:>12.2f} "
            f"{server_cpu:>12.2f} {busy:>10.2f}"
        )
    print(
        "(Parts sent: until aikit_files' on_progress counted the last byte; after it, the server\n"
        " reads what is left, answers the last Part, and completes: it copies the Parts into the\n"
        " file, hashing them. Cores busy: the call's CPU and the server's over the transfer time,\n"
        " 2 at most here.)"
    )


def check_targets(samples: dict[str, list[Sample]]) -> None:
    """Prints whether the targets are met: aikit_files' peak RSS under 64 MiB in every run, and
    4 Parts in flight at least as fast as the best single stream."""
    aikit = [s for name, runs in samples.items() if name.startswith("aikit") for s in runs]
    if aikit:
        worst = max(s.rss_mb for s in aikit) * 1e6 / MiB
        verdict = "met" if worst < RSS_TARGET_MIB else "NOT met"
        print(
            f"target peak RSS < {RSS_TARGET_MIB} MiB (every aikit_files run): {verdict}, "
            f"the highest was {worst:.1f} MiB"
        )
    four = samples.get(aikit_name(4))
    singles = {n: samples[n] for n in (aikit_name(1), SDK) if n in samples}
    if four and singles:
        best_name, best = min(
            ((n, statistics.median(s.transfer for s in runs)) for n, runs in singles.items()),
            key=lambda item: item[1],
        )
        median4 = statistics.median(s.transfer for s in four)
        verdict = "met" if median4 <= best else "NOT met"
        print(
            f"target 4 in flight <= best single stream ({best_name}, {best:.2f} s): {verdict}, "
            f"{median4:.2f} s ({median4 / best:.2f}x)"
        )


def main() -> None:
    parser = argument_parser(__doc__.splitlines()[0], size_mib=2048)
    parser.add_argument("--part-mib", type=int, default=64, help="aikit_files' part_size (64)")
    parser.set_defaults(rounds=3)
    args = parser.parse_args()
    size = args.size_mib * MiB
    part_size = args.part_mib * MiB
    # The Parts, the file they make, and the Parts in flight not yet moved into place.
    server_room = 2 * size + max(CONCURRENCIES) * part_size
    print(f"upload_large: {conditions()}")
    rows: list[ChartRow] = []
    with tempfile.TemporaryDirectory(prefix="aikit-bench-") as scratch_dir:
        scratch = pathlib.Path(scratch_dir)
        storage = check_room(scratch, size, server_room)
        path = make_file(scratch / "upload.bin", size)
        md5 = md5_of(path)
        clients = client_arguments(path, size, part_size, md5)
        for tls in (False,) if args.plain_only else (False, True):
            with running_server(tls, scratch, room=server_room) as server:
                samples = run_rounds(
                    list(clients),
                    args.only,
                    args.rounds,
                    lambda name: upload_once(server, clients[name], size),
                )
                scheme = "HTTPS (TLS, local CA)" if tls else "plain HTTP"
                report(
                    f"upload of {args.size_mib} MiB through the Uploads API "
                    f"({args.part_mib} MiB Parts) over {scheme}, loopback, server files on "
                    f"{server.storage}",
                    size,
                    samples,
                    reference=SDK if SDK in samples else next(iter(samples)),
                )
                time_split(samples)
                check_targets(samples)
                group = "TLS" if tls else "plain HTTP"
                rows += [
                    attrs.evolve(row, label=f"{row.label} · {group}")
                    for row in chart_rows(samples, group)
                ]
    write_chart(
        "upload_large",
        f"Upload of {args.size_mib} MiB through the Uploads API ({args.part_mib} MiB Parts), "
        f"loopback, server files on {storage}\n{medians_of(args.rounds)}; {conditions()}",
        rows,
        memory_target=(RSS_TARGET_MIB * MiB / 1e6, f"target: {RSS_TARGET_MIB} MiB"),
    )


if __name__ == "__main__":
    main()
