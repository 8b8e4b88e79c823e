"""Upload benchmark: one file to the local server by aikit_files, curl and the official SDK.

Over plain HTTP and over TLS, in alternating rounds (the order rotates each round), each client
in a process of its own: the median transfer time (inside the process for Python clients, the
whole process for curl), the whole-process time, the peak RSS, and the longest event-loop stall
of the async clients. Then the time of ``import aikit_files`` against ``import openai``.

    .venv/bin/python benchmarks/upload.py [--size-mib 512] [--rounds 5]
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile

from _common import (
    MiB,
    Sample,
    Server,
    import_times,
    make_file,
    python_client,
    report,
    run_process,
    running_server,
)


def upload_once(server: Server, client: str, path: pathlib.Path, size: int) -> Sample:
    """Runs one upload by ``client``, checks the server got every byte, then deletes the file."""
    if client == "curl":
        command = server.curl(
            "-F", "purpose=assistants", "-F", f"file=@{path}", server.base_url + "/files"
        )
        sample = run_process(command)
    else:
        sample = run_process(python_client(client, server.base_url, str(path)), server.client_env())
    # Both print the created file: curl the server's JSON, a Python client its summary.
    file = sample.output
    if file.get("bytes") != size:
        raise RuntimeError(f"{client}: the server stored {file.get('bytes')} bytes, not {size}")
    server.delete(str(file["id"]))
    return sample


CLIENTS = {
    "aikit_files (path)": "aikit-upload",
    "curl -F file=@path": "curl",
    "openai AsyncOpenAI (path)": "openai-upload-path",
    "openai AsyncOpenAI (open file)": "openai-upload-file",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--plain-only", action="store_true", help="skip the TLS runs")
    parser.add_argument(
        "--only", nargs="+", metavar="WORD", help="run only the clients whose name has a WORD"
    )
    args = parser.parse_args()
    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory(prefix="aikit-bench-") as scratch_dir:
        scratch = pathlib.Path(scratch_dir)
        path = make_file(scratch / "upload.bin", size)
        for tls in (False,) if args.plain_only else (False, True):
            with running_server(tls, scratch) as server:
                names = [
                    n
                    for n in CLIENTS
                    if not args.only or n.startswith("curl") or any(w in n for w in args.only)
                ]
                samples: dict[str, list[Sample]] = {name: [] for name in names}
                for round_ in range(args.rounds):
                    for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                        samples[name].append(upload_once(server, CLIENTS[name], path, size))
                scheme = "HTTPS (TLS, local CA)" if tls else "plain HTTP"
                report(
                    f"upload of {args.size_mib} MiB over {scheme}, loopback",
                    size,
                    samples,
                    reference="curl -F file=@path",
                )
    import_times(args.rounds * 2)


if __name__ == "__main__":
    main()
