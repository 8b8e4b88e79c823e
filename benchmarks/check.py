"""Check benchmark: ``check_file`` of a 200 MB batch file, next to uploading the same file.

A batch input file of chat-completion requests just under the API's limits (200 MB, under
50,000 requests) is checked by ``af.check_file`` (in a thread, as ``create(..., check=True)``
runs it) and read by a bare stdlib loop (each line through ``json.loads``, nothing checked: the
floor of any check in Python); then the same file is uploaded to the local server (plain HTTP,
data on tmpfs when it has room) by aikit_files and by curl. Each in a process of its own, in
alternating rounds: the median seconds, MB/s, CPU and peak RSS. Drawn in ``charts/check.png``.

    .venv/bin/python benchmarks/check.py [--size-mib 190] [--rounds 5]
"""

from __future__ import annotations

import json
import pathlib
import random
import tempfile

from _common import (
    MiB,
    Sample,
    Server,
    argument_parser,
    chart_rows,
    conditions,
    medians_of,
    python_client,
    report,
    run_process,
    run_rounds,
    running_server,
    write_chart,
)

#: The API takes at most this many requests in a batch file.
MAX_REQUESTS = 50_000


def make_batch_file(path: pathlib.Path, size: int) -> int:
    """Writes a valid batch file of chat-completion requests of about ``size`` bytes, in at
    most ``MAX_REQUESTS`` lines of varied words; returns its request count."""
    words = ["the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "with", "on"]
    words += ["naïve", "café", "résumé", "日本語", "emoji 🙂", 'quote "q"', "tab\there"]
    rng = random.Random(7)
    per_line = size // (MAX_REQUESTS - 2000)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        while out.tell() < size - per_line and count < MAX_REQUESTS:
            text = " ".join(rng.choice(words) for _ in range(per_line // 4))
            request = {
                "custom_id": f"request-{count}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": "gpt-4o-mini",
                    "messages": [
                        {"role": "system", "content": "You are a careful assistant."},
                        {"role": "user", "content": text[: per_line - 300]},
                    ],
                    "max_tokens": 512,
                    "temperature": 0.2,
                },
            }
            out.write(json.dumps(request, ensure_ascii=False) + "\n")
            count += 1
    return count


CLIENTS = {
    "aikit_files check_file (batch)": "check",
    "stdlib json.loads per line (no rules)": "stdlib",
    "aikit_files create (upload)": "aikit-upload",
    "curl -F file=@path (upload)": "curl",
}


def run_once(server: Server, kind: str, path: pathlib.Path, size: int) -> Sample:
    if kind == "curl":
        command = server.curl(
            "-F", "purpose=batch", "-F", f"file=@{path}", server.base_url + "/files"
        )
        sample = run_process(command, server=server)
    elif kind == "aikit-upload":
        command = python_client("aikit-upload", server.base_url, str(path))
        sample = run_process(command, server.client_env(), server=server)
    elif kind == "check":
        sample = run_process(python_client("aikit-check", "batch", str(path)))
        if not sample.output.get("ok"):
            raise RuntimeError("check_file found problems in the generated file")
        return sample
    else:
        return run_process(python_client("stdlib-json-lines", str(path)))
    file = sample.output
    if file.get("bytes") != size:
        raise RuntimeError(f"{kind}: the server stored {file.get('bytes')} bytes, not {size}")
    server.delete(str(file["id"]))
    return sample


def main() -> None:
    parser = argument_parser(__doc__.splitlines()[0], size_mib=190)
    args = parser.parse_args()
    print(f"check: {conditions()}")
    with tempfile.TemporaryDirectory(prefix="aikit-bench-") as scratch_dir:
        scratch = pathlib.Path(scratch_dir)
        path = scratch / "requests.jsonl"
        requests = make_batch_file(path, args.size_mib * MiB)
        size = path.stat().st_size
        print(f"{path.name}: {size:,} bytes, {requests:,} requests")
        with running_server(False, scratch, room=size) as server:
            samples = run_rounds(
                list(CLIENTS),
                args.only,
                args.rounds,
                lambda name: run_once(server, CLIENTS[name], path, size),
            )
        title = f"check of a {size / 1e6:.0f} MB batch file ({requests:,} requests), and its upload"
        report(title, size, samples, reference="aikit_files check_file (batch)")
        write_chart(
            "check",
            f"{title} over plain HTTP, loopback\n{medians_of(args.rounds)}; {conditions()}",
            chart_rows(samples),
            seconds_label="seconds (median; bar: min-max)",
        )


if __name__ == "__main__":
    main()
