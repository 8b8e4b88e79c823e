"""Download benchmark: one file from the local server to disk by aikit_files, curl and the SDK.

Over plain HTTP and over TLS, in alternating rounds (the order rotates each round), each client
in a process of its own, writing the file to local disk: the median transfer time (inside the
process for Python clients, the whole process for curl), the whole-process time and CPU, the
CPU of the call alone (Python clients), the peak RSS, the longest event-loop stall of the async
clients, and the server's CPU and peak RSS during each run. The official SDK runs twice: its
documented ``files.content()`` (then ``write_to_file``) and its streaming response. The figures
are drawn in ``charts/download-http.png`` and ``download-tls.png``.

    .venv/bin/python benchmarks/download.py [--size-mib 512] [--rounds 5]
"""

from __future__ import annotations

import os
import pathlib
import tempfile

from _common import (
    MiB,
    Sample,
    Server,
    chart_rows,
    conditions,
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

CLIENTS = {
    "aikit_files download()": "aikit-download",
    "curl -o": "curl",
    "openai content().write_to_file": "openai-download-content",
    "openai streaming stream_to_file": "openai-download-streaming",
}


def download_once(
    server: Server, client: str, file_id: str, destination: pathlib.Path, size: int
) -> Sample:
    """Runs one download by ``client``, checks the file on disk, then removes it."""
    if client == "curl":
        url = f"{server.base_url}/files/{file_id}/content"
        sample = run_process(server.curl("-o", str(destination), url), server=server)
    else:
        command = python_client(client, server.base_url, file_id, str(destination))
        sample = run_process(command, server.client_env(), server=server)
    if destination.stat().st_size != size:
        raise RuntimeError(f"{client}: wrote {destination.stat().st_size} bytes, not {size}")
    os.unlink(destination)
    return sample


def main() -> None:
    args = parse_arguments(__doc__.splitlines()[0])
    size = args.size_mib * MiB
    print(f"download: {conditions()}")
    with tempfile.TemporaryDirectory(prefix="aikit-bench-") as scratch_dir:
        scratch = pathlib.Path(scratch_dir)
        source = make_file(scratch / "source.bin", size)
        destination = scratch / "downloaded.bin"
        for tls in (False,) if args.plain_only else (False, True):
            with running_server(tls, scratch, room=size) as server:
                uploaded = run_process(
                    server.curl(
                        "-F", "purpose=assistants", "-F", f"file=@{source}", server.base_url + "/files"
                    )
                )  # fmt: skip
                file_id = str(uploaded.output["id"])
                samples = run_rounds(
                    list(CLIENTS),
                    args.only,
                    args.rounds,
                    # NOTE: run_rounds calls this before the loop moves on.
                    lambda name: download_once(server, CLIENTS[name], file_id, destination, size),  # noqa: B023
                )
                scheme = "HTTPS (TLS, local CA)" if tls else "plain HTTP"
                report(
                    f"download of {args.size_mib} MiB over {scheme}, loopback, to disk",
                    size,
                    samples,
                    reference="curl -o",
                )
                write_chart(
                    f"download-{'tls' if tls else 'http'}",
                    f"Download of {args.size_mib} MiB over {scheme}, loopback, to disk\n"
                    f"{medians_of(args.rounds)}; {conditions()}",
                    chart_rows(samples),
                )


if __name__ == "__main__":
    main()
