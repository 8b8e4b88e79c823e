"""``aikit-files demo``: the whole job to its end, narrated, leaving nothing behind."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

from .conftest import VARIABLES


def test_the_demo_runs_to_the_end_and_leaves_nothing(tmp_path: pathlib.Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    environment = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    environment |= {"TMPDIR": str(temporary), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "aikit_files", "demo", "--size-mb", "2"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    assert lines[0].startswith("aikit-files demo: a local Files API server at http://127.0.0.1:")
    steps = [line for line in lines if line.startswith("[")]
    assert [step.split("]")[0] + "]" for step in steps] == [f"[{i}/10]" for i in range(1, 11)]
    story = "\n".join(lines)
    for told in (
        "generated train.jsonl: ",
        "chat examples, 2.0 MiB, SHA-256 ",
        "uploaded train.jsonl as file-",
        "retrieved file-",
        ": SHA-256 matches (",
        "through the Uploads API in 6 Parts of 4.0 MiB",
        "on_terminate: success=True, file=file-",
        "the sync client (af.Client) uploaded sync.txt as file-",
        "Azure files/import fetched http://127.0.0.1:",
        "pending -> processed",
        "deleted the 5 files; the server lists none",
        "aikit-files demo: stopped the server",
    ):
        assert told in story
    assert lines[-1].startswith("aikit-files demo: done in ")
    assert lines[-1].endswith("; nothing left behind")
    assert list(temporary.iterdir()) == []
    assert not (tmp_path / "cache").exists()
