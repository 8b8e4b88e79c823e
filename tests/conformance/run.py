"""``make conformance``: the local server as independent tools see it, against the official specs.

1. schemathesis generates requests from each spec (OpenAI's under ``/v1``, Azure's 2024-10-21
   under ``/openai``) for the Files and Uploads operations and checks every answer (status,
   headers, content type, body schema, no 5xx, 405 with ``Allow``...), against a server this
   script starts on a free port.
2. Our client runs its operations through Stoplight Prism's validating proxy, one per flavour,
   which reports every request or answer that breaks the spec.

The specs are corrected first by the quirks that ``quirks.py`` lists and explains (the one
place for them), into ``.conformance/``. Prints a summary; exits non-zero on any failure.

Usage: ``python tests/conformance/run.py SPECS_DIR [--max-examples N]`` (``make conformance``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import pathlib
import re
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

from quirks import (
    AZURE_QUIRKS,
    EXCLUDED_CHECKS,
    OPENAI_QUIRKS,
    PATHS_REGEX,
    PRISM_AZURE_QUIRKS,
    Spec,
)

import aikit_files as af
from aikit_files.server import ServerThread

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORK = ROOT / ".conformance"
KEY = "sk-conformance"
API_VERSION = "2024-10-21"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _patched(source: pathlib.Path, quirks: tuple[Any, ...], target: pathlib.Path) -> pathlib.Path:
    if source.suffix == ".json":
        spec: Spec = json.loads(source.read_text())
    else:
        # PyYAML comes with schemathesis; imported by name so that type checks need no stubs.
        yaml = importlib.import_module("yaml")
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        spec = yaml.load(source.read_text(), Loader=loader)
    for quirk in quirks:
        quirk(spec)
    # default=str: YAML reads a bare date as a date, which JSON writes as its text.
    target.write_text(json.dumps(spec, default=str))
    return target


def _schemathesis(name: str, spec: pathlib.Path, url: str, header: str, examples: int) -> bool:
    print(f"\n=== schemathesis: {name} ({url}) ===", flush=True)
    command = [
        str(pathlib.Path(sys.executable).parent / "schemathesis"),
        "run",
        str(spec),
        "--url",
        url,
        "--header",
        header,
        "--include-path-regex",
        PATHS_REGEX,
        "--checks",
        "all",
        "--exclude-checks",
        ",".join(EXCLUDED_CHECKS),
        "--max-examples",
        str(examples),
        "--continue-on-failure",
        "--workers",
        "1",
        "--seed",
        "1",
        "--no-color",
    ]
    # cwd: its cache of failures (.schemathesis/) goes with the tools, out of the tree.
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=WORK)
    output = done.stdout + done.stderr
    (WORK / f"schemathesis-{name}.txt").write_text(output)
    summary = output[output.rfind("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
    print(summary.strip(), flush=True)
    return done.returncode == 0


async def _client_operations(client: af.AsyncClient, azure: bool) -> None:
    """Every operation of our client once, the large-upload path included."""
    made = await client.files.create(b'{"prompt": "hi"}\n', "fine-tune", filename="t.jsonl")
    if azure:
        await client.files.wait_for_processing(made.id, poll_interval=0.2)
    await client.files.retrieve(made.id)
    await client.files.list(limit=5, order="asc")
    async for _ in client.files.iterate(purpose="fine-tune", limit=1):
        pass
    await client.files.content(made.id)
    big = await client.files.create(
        b"x" * 300, "assistants", filename="big.txt", upload_threshold=64, part_size=128
    )
    upload = await client.uploads.create("u.txt", "assistants", 2, "text/plain")
    await client.uploads.cancel(upload.id)
    for file in (made, big):
        await client.files.delete(file.id)
    with contextlib.suppress(af.NotFoundError):
        await client.files.retrieve("file-" + "0" * 32)


def _prism(name: str, spec: pathlib.Path, upstream: str, azure: bool) -> bool:
    print(f"\n=== Prism's validating proxy: our client, {name} ===", flush=True)
    prism = WORK / "node_modules" / ".bin" / "prism"
    port = _free_port()
    log_path = WORK / f"prism-{name}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(prism), "proxy", str(spec), upstream, "--port", str(port), "--host", "127.0.0.1"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while "Prism is listening" not in log_path.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    print(log_path.read_text())
                    return False
                time.sleep(0.2)
            base = f"http://127.0.0.1:{port}"
            options: dict[str, Any] = (
                {"provider": "azure", "base_url": base, "api_version": API_VERSION}
                if azure
                else {"base_url": base}
            )

            async def run() -> None:
                async with af.AsyncClient(KEY, max_retries=0, **options) as client:
                    await _client_operations(client, azure)

            try:
                asyncio.run(run())
                failed = None
            except af.AIKitError as error:
                failed = error
        finally:
            process.terminate()
            process.wait(timeout=30)
    output = log_path.read_text()
    violations = [line for line in output.splitlines() if re.search(r"Violation|✖", line)]
    requests = len(re.findall(r"Request received", output))
    print(f"{requests} requests through the proxy; {len(violations)} violations")
    for line in violations[:20]:
        print("  " + line.strip())
    if failed is not None:
        print(f"  the client failed: {failed!r}")
    return not violations and failed is None


def main() -> int:
    """Runs both tools against both flavours; 0 when every check passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", type=pathlib.Path, help="the folder of the official specs")
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--tools", default="schemathesis,prism", help="which tools run")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    # The server's log (a refused malformed request is logged with its traceback by aiohttp).
    logging.basicConfig(filename=WORK / "server.log", level=logging.INFO, force=True)
    openai_spec = _patched(args.specs / "openai-openapi.yaml", OPENAI_QUIRKS, WORK / "openai.json")
    azure_source = args.specs / "azure-openai-authoring-2024-10-21" / "azureopenai.json"
    azure_spec = _patched(azure_source, AZURE_QUIRKS, WORK / "azure.json")
    prism_azure_spec = _patched(azure_source, PRISM_AZURE_QUIRKS, WORK / "azure-prism.json")
    print("quirks corrected:", ", ".join(q.__name__ for q in OPENAI_QUIRKS + PRISM_AZURE_QUIRKS))
    print("checks left out:", ", ".join(EXCLUDED_CHECKS))
    results: dict[str, bool] = {}
    with (
        tempfile.TemporaryDirectory(prefix="aikit-conformance-") as data,
        ServerThread(data, api_key=KEY, allow_private_import=True, processing_delay=0) as server,
    ):
        tools = args.tools.split(",")
        if "schemathesis" in tools:
            results.update(_schemathesis_both(server, openai_spec, azure_spec, args.max_examples))
        if "prism" in tools:
            results["prism openai"] = _prism("openai", openai_spec, server.openai_base_url, False)
            results["prism azure"] = _prism("azure", prism_azure_spec, server.url, True)
    print("\n=== conformance ===")
    for name, passed in results.items():
        print(f"{'ok  ' if passed else 'FAIL'} {name}")
    return 0 if all(results.values()) else 1


def _schemathesis_both(
    server: ServerThread, openai_spec: pathlib.Path, azure_spec: pathlib.Path, examples: int
) -> dict[str, bool]:
    return {
        "schemathesis openai": _schemathesis(
            "openai",
            openai_spec,
            server.openai_base_url,
            f"Authorization: Bearer {KEY}",
            examples,
        ),
        "schemathesis azure": _schemathesis(
            "azure", azure_spec, f"{server.url}/openai", f"api-key: {KEY}", examples
        ),
    }


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    sys.exit(main())
