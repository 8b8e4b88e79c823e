"""Upload benchmark: one file to the local server by aikit_files, curl and the official SDK.

Over plain HTTP and over TLS, in alternating rounds (the order rotates each round), each client
in a process of its own: the median transfer time (inside the process for Python clients, the
whole process for curl), the whole-process time and CPU, the CPU of the call alone (Python
clients: ``time.process_time()`` around it, so without start-up and imports; compare it with
curl's whole-process CPU), the peak RSS, the longest event-loop stall of the async clients, and
the server's CPU and peak RSS during each run. Then the time of ``import aikit_files`` against
``import openai``. The figures are drawn in ``charts/upload-http.png`` and ``upload-tls.png``.

    .venv/bin/python benchmarks/upload.py [--size-mib 512] [--rounds 5]
"""

from __future__ import annotations

import pathlib
import tempfile

from _common import (
    MiB,
    Sample,
    Server,
    chart_rows,
    conditions,
    import_times,
    make_file,
    medians_of,
    parse_arguments,
    python_client,
    report,
    run_process,
    run_rounds,
    running_server,
    write_chart,
)


def upload_once(server: Server, client: str, path: pathlib.Path, size: int) -> Sample:
    """Runs one upload by ``client``, checks the server got every byte, then deletes the file."""
    if client == "curl":
        command = server.curl(
            "-F", "purpose=assistants", "-F", f"file=@{path}", server.base_url + "/files"
        )
        sample = run_process(command, server=server)
    else:
        command = python_client(client, server.base_url, str(path))
        sample = run_process(command, server.client_env(), server=server)
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
    args = parse_arguments(__doc__.splitlines()[0])
    size = args.size_mib * MiB
    print(f"upload: {conditions()}")
    with tempfile.TemporaryDirectory(prefix="aikit-bench-") as scratch_dir:
        scratch = pathlib.Path(scratch_dir)
        path = make_file(scratch / "upload.bin", size)
        for tls in (False,) if args.plain_only else (False, True):
            with running_server(tls, scratch, room=size) as server:
                samples = run_rounds(
                    list(CLIENTS),
                    args.only,
                    args.rounds,
                    lambda name: upload_once(server, CLIENTS[name], path, size),
                )
                scheme = "HTTPS (TLS, local CA)" if tls else "plain HTTP"
                report(
                    f"upload of {args.size_mib} MiB over {scheme}, loopback",
                    size,
                    samples,
                    reference="curl -F file=@path",
                )
                write_chart(
                    f"upload-{'tls' if tls else 'http'}",
                    f"Upload of {args.size_mib} MiB over {scheme}, loopback (POST /files)\n"
                    f"{medians_of(args.rounds)}; {conditions()}",
                    chart_rows(samples),
                )
    import_times(args.rounds * 2)


if __name__ == "__main__":
    main()
