"""``aikit-files upload`` of a batch (directories, --include/--exclude/--hidden, --skip-existing,
--manifest) through create_many, in-process against the local server."""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Callable
from typing import Any

import pytest

import aikit_files as af
from aikit_files.server import ServerThread
from aikit_files.testing import Delay, FaultProxy, Rule

from .conftest import Run
from .test_unix import on_a_terminal

Cli = Callable[..., Run]

pytestmark = pytest.mark.usefixtures("env")


@pytest.fixture
def docs(tmp_path: pathlib.Path) -> pathlib.Path:
    root = tmp_path / "docs"
    for name in ("a.txt", "b.md", "sub/c.txt", ".hidden.txt", "skip/d.txt"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {name}\n")
    return root


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_a_directory_with_include_exclude_as_json_lines(
    cli: Cli, api: af.Client, docs: pathlib.Path
) -> None:
    run = cli("upload", docs, "--purpose", "assistants", "--include", "*.txt",
              "--exclude", "skip/*", "--json")  # fmt: skip
    assert run.status == 0, run.err
    documents = jsonl(run.out)
    assert [d["filename"] for d in documents] == ["a.txt", "c.txt"]
    held = {f.id: f for f in api.files.list().data}
    assert sorted(held) == sorted(d["id"] for d in documents)
    assert api.files.content(documents[1]["id"]) == (docs / "sub" / "c.txt").read_bytes()


def test_hidden_and_the_summary_for_people(cli: Cli, api: af.Client, docs: pathlib.Path) -> None:
    run = cli("upload", docs, "--purpose", "assistants", "--hidden")
    assert run.status == 0, run.err
    lines = run.out.splitlines()
    assert len(lines) == 5
    assert all(line.startswith("uploaded ") for line in lines)
    assert any(".hidden.txt as file-" in line for line in lines)
    assert "5 created, 0 skipped, 0 failed in " in run.err
    assert len(api.files.list().data) == 5


def test_skip_existing_and_the_manifest_send_nothing_twice(
    cli: Cli, api: af.Client, docs: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    manifest = tmp_path / "docs.manifest"
    first = cli("upload", docs, "--purpose", "assistants", "--manifest", manifest, "-q")
    assert first.status == 0, first.err
    assert len(first.out.split()) == 4
    again = cli("upload", docs, "--purpose", "assistants", "--manifest", manifest)
    assert again.status == 0, again.err
    assert all(line.startswith("skipped (already there) ") for line in again.out.splitlines())
    assert "0 created, 4 skipped, 0 failed" in again.err
    (docs / "new.txt").write_text("new\n")
    skipping = cli("upload", docs, "--purpose", "assistants", "--skip-existing", "--json")
    assert skipping.status == 0, skipping.err
    assert len(jsonl(skipping.out)) == 5
    assert len(api.files.list().data) == 5


def test_a_failed_file_is_named_and_the_status_is_1(
    cli: Cli, api: af.Client, docs: pathlib.Path
) -> None:
    # The local server refuses a batch file that is not JSON Lines: each one fails alone.
    (docs / "ok.jsonl").write_text('{"custom_id": "1", "method": "POST", "url": '
                                   '"/v1/chat/completions", "body": {}}\n')  # fmt: skip
    run = cli("upload", docs, "--purpose", "batch", "--include", "*.txt", "--include", "*.jsonl")
    assert run.status == 1
    assert [line.split()[0] for line in run.out.splitlines()] == ["uploaded"]
    assert "1 created, 0 skipped, 3 failed" in run.err
    errors = [line for line in run.err.splitlines() if "a.txt" in line or "c.txt" in line]
    assert len(errors) >= 2
    assert "(3 of 4 uploads failed)" in run.err
    assert [f.filename for f in api.files.list().data] == ["ok.jsonl"]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["-", "--filename", "x.txt", "--skip-existing"], "- (stdin) cannot go in a batch"),
        (["DOCS", "--filename", "x.txt"], "--filename names one file"),
        (["DOCS", "missing-dir"], "no such file or directory: missing-dir"),
    ],
)
def test_what_a_batch_refuses(
    cli: Cli, api: af.Client, docs: pathlib.Path, argv: list[str], words: str
) -> None:
    argv = [str(docs) if arg == "DOCS" else arg for arg in argv]
    run = cli("upload", *argv, "--purpose", "assistants")
    assert run.status == 1
    assert words in run.error_line
    assert api.files.list().data == []


def test_on_a_terminal_a_bar_then_the_summary(server: ServerThread, docs: pathlib.Path) -> None:
    # Slow enough for the bar to be drawn while the files go.
    with FaultProxy(server.url, [Rule(Delay(0.3), method="POST", path="/v1/files")]) as proxy:
        status, shown = on_a_terminal(
            "--base-url", proxy.url + "/v1", "upload", str(docs), "--purpose", "assistants",
            "--concurrency", "1", server=server,
        )  # fmt: skip
    assert status == 0, shown
    text = shown.decode(errors="replace")
    assert "files" in text
    assert re.search(r"\d+(\.\d+)? ?(B|KiB)", text), text
    assert "4 created, 0 skipped, 0 failed in " in text
    assert text.count("uploaded ") == 4
