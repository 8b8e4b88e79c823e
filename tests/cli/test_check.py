"""``aikit-files check PATH... --purpose P`` and ``upload --check``: problems as compilers print
them, a summary per file, JSON Lines with ``--json``, exit 1 on any problem."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable

import pytest

import aikit_files as af

from .conftest import Run

Cli = Callable[..., Run]
MakeFile = Callable[..., pathlib.Path]


def batch(*ids: str) -> str:
    return "".join(
        json.dumps({"custom_id": i, "method": "POST", "url": "/v1/embeddings", "body": {}}) + "\n"
        for i in ids
    )


@pytest.mark.usefixtures("clean_env")
def test_a_valid_file_prints_its_summary_and_exits_0(cli: Cli, make_file: MakeFile) -> None:
    path = make_file("good.jsonl", batch("a", "b", "c"))
    run = cli("check", path, "--purpose", "batch")
    assert (run.status, run.err) == (0, "")
    assert run.out == f"{path}: ok (3 lines, 3 requests to /v1/embeddings)\n"


@pytest.mark.usefixtures("clean_env")
def test_problems_print_as_path_line_message_and_exit_1(cli: Cli, make_file: MakeFile) -> None:
    good = make_file("good.jsonl", batch("a", "b"))
    bad = make_file("bad.jsonl", batch("a", "b", "a") + "[]\n")
    run = cli("check", good, bad, "--purpose", "batch")
    assert run.status == 1
    assert run.out.splitlines() == [
        f"{good}: ok (2 lines, 2 requests to /v1/embeddings)",
        f"{bad}:3: custom_id: 'a' is repeated (first on line 1)",
        f"{bad}:4: a JSON array, not an object",
        f"{bad}: 2 problems (4 lines, 3 requests to /v1/embeddings)",
    ]


@pytest.mark.usefixtures("clean_env")
def test_a_problem_of_the_whole_file_has_no_line(cli: Cli, make_file: MakeFile) -> None:
    path = make_file("few.jsonl", '{"prompt": "a", "completion": "b"}\n')
    run = cli("check", path, "--purpose", "fine-tune")
    assert run.status == 1
    assert run.out.splitlines()[0] == (f"{path}: 1 training example: fine-tuning needs at least 10")


@pytest.mark.usefixtures("clean_env")
def test_json_is_one_file_check_a_line(cli: Cli, make_file: MakeFile) -> None:
    good = make_file("good.jsonl", batch("a"))
    bad = make_file("bad.jsonl", batch("a", "a"))
    for order in ((good, bad), (good,)):
        run = cli("--json", "check", *order, "--purpose", "batch")
        documents = [json.loads(line) for line in run.out.splitlines()]
        assert [d["path"] for d in documents] == [str(p) for p in order]
        assert documents[0]["ok"] is True
        assert documents[0]["requests"] == 1
    assert run.status == 0
    run = cli("check", bad, "--purpose", "batch", "--json")
    (document,) = [json.loads(line) for line in run.out.splitlines()]
    assert run.status == 1
    assert document["problems"] == [
        {"line": 2, "field": "custom_id", "message": "'a' is repeated (first on line 1)"}
    ]
    assert document["problem_count"] == 1


@pytest.mark.usefixtures("clean_env")
def test_a_missing_path_is_one_line_on_stderr_and_the_others_still_checked(
    cli: Cli, make_file: MakeFile, tmp_path: pathlib.Path
) -> None:
    good = make_file("good.jsonl", batch("a"))
    run = cli("check", tmp_path / "missing.jsonl", good, "--purpose", "batch")
    assert run.status == 1
    assert "no such file" in run.error_line
    assert run.out == f"{good}: ok (1 line, 1 request to /v1/embeddings)\n"


@pytest.mark.usefixtures("env")
def test_upload_check_sends_nothing_when_a_file_has_problems(
    cli: Cli, api: af.Client, make_file: MakeFile
) -> None:
    bad = make_file("bad.jsonl", batch("a", "a"))
    run = cli("upload", bad, "--purpose", "batch", "--check")
    assert run.status == 1
    assert "custom_id" in run.err
    assert api.files.list().data == []
    good = make_file("good.jsonl", batch("a"))
    assert cli("upload", good, "--purpose", "batch", "--check").status == 0
    assert [f.filename for f in api.files.list().data] == ["good.jsonl"]


@pytest.mark.usefixtures("clean_env")
def test_quiet_prints_only_the_problems(cli: Cli, make_file: MakeFile) -> None:
    good = make_file("good.jsonl", batch("a"))
    bad = make_file("bad.jsonl", batch("a", "a"))
    run = cli("-q", "check", good, bad, "--purpose", "batch")
    assert run.status == 1
    assert run.out == f"{bad}:2: custom_id: 'a' is repeated (first on line 1)\n"
