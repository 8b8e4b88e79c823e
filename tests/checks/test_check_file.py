"""``check_file`` on paths: what it refuses before reading, a line over the limit, and a file over
the batch limit read in constant memory."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

import aikit_files as af
from aikit_files._limits import BATCH_FILE_LIMIT, JSONL_LINE_LIMIT, MiB


def test_a_path_is_checked_under_its_own_name(tmp_path: pathlib.Path) -> None:
    good = tmp_path / "requests.jsonl"
    line = {"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}}
    good.write_text(json.dumps(line) + "\n")
    assert af.check_file(good, "batch").ok
    assert af.check_file(str(good), "batch").requests == 1
    renamed = tmp_path / "requests.txt"
    good.rename(renamed)
    check = af.check_file(renamed, "batch")
    assert [p.message for p in check.problems] == [
        "a batch file must be named *.jsonl, not 'requests.txt'"
    ]
    assert af.check_file(renamed, "batch", filename="upload.jsonl").ok


@pytest.mark.parametrize(
    ("source", "purpose", "error", "words"),
    [
        ("missing.jsonl", "batch", af.InvalidArgumentError, "no such file"),
        (".", "batch", af.InvalidArgumentError, "is a directory"),
        (42, "batch", af.InvalidArgumentTypeError, "path or bytes"),
        (b"{}", "", af.InvalidArgumentError, "purpose must not be empty"),
        (b"{}", None, af.InvalidArgumentTypeError, "purpose must be a string"),
    ],
)
def test_bad_arguments_raise_before_reading(
    source: object,
    purpose: object,
    error: type[Exception],
    words: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: pathlib.Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=words):
        af.check_file(source, purpose)  # type: ignore[arg-type]


def test_an_unreadable_path(tmp_path: pathlib.Path) -> None:
    # NOTE: not a mode of 0: the suite may run as root, who reads such a file.
    (tmp_path / "plain.jsonl").write_text("{}\n")
    with pytest.raises(af.InvalidArgumentError, match=r"cannot read .*: Not a directory"):
        af.check_file(tmp_path / "plain.jsonl" / "inside.jsonl", "evals")


def test_a_line_over_the_limit_is_skipped_and_the_next_still_read(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "long.jsonl"
    first = b'{"text": "' + b"x" * (JSONL_LINE_LIMIT + MiB) + b'"}\n'
    path.write_bytes(first + b"[not an object]\n")
    check = af.check_file(path, "evals")
    assert [(p.line, p.message) for p in check.problems] == [
        (1, f"the line is 17 MiB ({len(first):,} bytes), over 16 MiB (16,777,216 bytes)"),
        (2, "not valid JSON: Expecting value"),
    ]
    assert (check.lines, check.bytes) == (2, path.stat().st_size)


# NOTE: run in a child so that its peak RSS is the check's own, not the test session's; read
# from VmHWM, which exec resets (ru_maxrss keeps the forking parent's peak).
_CHECK_IN_A_CHILD = """
import json, re, sys
import aikit_files as af
check = af.check_file(sys.argv[1], "batch")
with open("/proc/self/status") as status:
    peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) * 1024
print(json.dumps({"peak": peak, "requests": check.requests, "bytes": check.bytes,
                  "problems": [str(p) for p in check.problems]}))
"""


def test_a_file_over_the_batch_limit_is_read_in_constant_memory(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "big.jsonl"
    padding = "x" * 4300
    requests = 0
    with path.open("w") as out:
        while out.tell() <= BATCH_FILE_LIMIT:
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": padding}]}
            line = {"custom_id": f"r{requests}", "method": "POST", "url": "/v1/chat/completions"}
            out.write(json.dumps({**line, "body": body}) + "\n")
            requests += 1
    size = path.stat().st_size
    child = subprocess.run(
        [sys.executable, "-c", _CHECK_IN_A_CHILD, str(path)],
        capture_output=True,
        check=True,
        text=True,
    )
    found = json.loads(child.stdout)
    assert (found["requests"], found["bytes"]) == (requests, size)
    assert found["problems"] == [
        f"the file is 200 MiB ({size:,} bytes), more than the 200 MiB "
        "(209,715,200 bytes) a batch file may be"
    ]
    # The interpreter with the package imported is ~30 MiB; the file is over 200 MiB.
    assert found["peak"] < 64 * MiB, found["peak"]
