"""A batch with a manifest, killed (SIGKILL) at several points and run again: in the end one
file per source, with its content, and no large file sent whole twice."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
from collections import Counter

import aikit_files as af
from aikit_files.server import ServerThread
from aikit_files.testing import Delay, FaultProxy, Rule

SCRIPT = """
import asyncio, sys
import aikit_files as af

async def main(url, key, src, manifest):
    async with af.AsyncClient(key, base_url=url) as client:
        await client.files.create_many(
            [src], "assistants", manifest=manifest, concurrency=4,
            upload_threshold=50_000, part_size=16 * 1024, max_concurrency=2,
        )

asyncio.run(main(*sys.argv[1:]))
"""


def created_lines(manifest: pathlib.Path) -> int:
    try:
        return manifest.read_bytes().count(b'"state":"created"')
    except FileNotFoundError:
        return 0


def run_until(
    command: list[str], manifest: pathlib.Path, created: int, env: dict[str, str]
) -> None:
    """Runs the batch in a subprocess and kills it once the manifest records ``created``
    files (or sooner, once it is sending: ``created`` 0)."""
    process = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 60
        while created_lines(manifest) < created or not manifest.exists():
            assert process.poll() is None, "the batch ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        if created == 0:
            time.sleep(0.05)  # the first files (the large one among them) are on their way
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def test_killed_then_run_again_makes_one_file_per_source(
    local_server: ServerThread, tmp_path: pathlib.Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    big = os.urandom(200_000)
    (src / "0-big.bin").write_bytes(big)
    for i in range(60):
        (src / f"{i:02}.txt").write_bytes(os.urandom(100 + i))
    manifest = tmp_path / "batch.manifest"
    script = tmp_path / "batch.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with FaultProxy(local_server.url) as proxy:
        # Slow enough to be killed half way, with requests in flight (and Parts of the large
        # file): the proxy forwards a request whose client died, so the server may store a
        # file the manifest never heard of.
        proxy.add_rule(Rule(Delay(0.03), method="POST", path="/v1/"))
        assert local_server.api_key is not None
        command = [sys.executable, str(script), proxy.url + "/v1", local_server.api_key,
                   str(src), str(manifest)]  # fmt: skip
        for created in (0, 15, 40):
            run_until(command, manifest, created, env)
        proxy.clear_rules()
        # NOTE: the requests the proxy still holds for the killed process land first (a rerun
        # lists what the server has made; one still on its way is not seen).
        time.sleep(0.3)
        with af.Client(local_server.api_key, base_url=proxy.url + "/v1") as client:
            result = client.files.create_many(
                [src], "assistants", manifest=manifest, upload_threshold=50_000,
                part_size=16 * 1024,
            )  # fmt: skip
            assert isinstance(result, af.ManyResult)
            assert result.success, [r.errors for r in result.results if not r.success]
            assert result.created + result.skipped == 61
            assert result.skipped >= 15
            held = list(client.files.iterate(purpose="assistants"))
            names = Counter(f.filename for f in held)
            assert names == Counter(p.name for p in src.iterdir())
            for file in held:
                assert client.files.content(file.id) == (src / file.filename).read_bytes()
            # The large file never goes whole through POST /files, nor whole twice in Parts: a
            # run killed with Parts (or its complete) in flight leaves those to the rerun, which
            # sends them again, and a complete sent twice finds the one file it made.
            whole = [
                e
                for e in proxy.exchanges
                if (e.method, e.path) == ("POST", "/v1/files") and e.request_bytes >= len(big)
            ]
            assert whole == []
            part_bytes = sum(e.request_bytes for e in proxy.exchanges if e.path.endswith("/parts"))
            assert len(big) <= part_bytes < 2 * len(big)
    # The journal of the large file is gone with its folder.
    folder = tmp_path / "batch.manifest.uploads"
    assert not folder.exists(), list(folder.iterdir())
