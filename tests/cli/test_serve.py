"""``aikit-files serve`` as a script or CI job runs it: one-line errors naming the flag and the
fix, export lines a shell can source (``--env``), a timestamped access log, and Ctrl-C."""

from __future__ import annotations

import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

import aikit_files as af
from aikit_files.cli import main

from .conftest import Run, check_run

COMMAND = [sys.executable, "-m", "aikit_files", "serve", "--port", "0"]


def serve(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    status = main(["serve", *argv])
    captured = capsys.readouterr()
    return check_run(status, captured.out, captured.err)


def test_a_port_in_use_names_the_flag_and_suggests_port_0(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = serve(capsys, "--port", str(port), "--data-dir", str(tmp_path))
    assert (run.status, run.out) == (1, "")
    assert run.error_line == (
        f"aikit-files: --port {port} is in use on 127.0.0.1: pick another, or --port 0 for a "
        "free one"
    )


def test_a_host_that_is_no_address_names_the_flag(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = serve(capsys, "--host", "no-such-host.invalid", "--port", "0", "--data-dir",
                str(tmp_path))  # fmt: skip
    assert run.status == 1
    assert run.error_line.startswith("aikit-files: --host no-such-host.invalid: no such address")
    assert run.error_line.endswith("such as 127.0.0.1 (this machine only) or 0.0.0.0 (every "
                                   "interface)")  # fmt: skip


def test_a_data_dir_that_cannot_hold_files_names_the_flag(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "a-file"
    plain.write_text("x")
    run = serve(capsys, "--port", "0", "--data-dir", str(plain))
    assert (run.status, run.error_line) == (
        1,
        f"aikit-files: --data-dir {plain} is not a directory: name a directory (or a new path)",
    )
    run = serve(capsys, "--port", "0", "--data-dir", str(plain / "below"))
    assert run.status == 1
    assert run.error_line.startswith(f"aikit-files: --data-dir {plain / 'below'}: cannot create")
    assert run.error_line.endswith("name a directory you can write to")


def wait_for_lines(path: pathlib.Path, count: int, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines()
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"{path} has {path.read_text()!r}")


def test_env_lines_are_all_stdout_holds_and_a_shell_can_eval_them(
    tmp_path: pathlib.Path,
) -> None:
    out, err = tmp_path / "out", tmp_path / "err"
    with (
        out.open("w") as stdout,
        err.open("w") as stderr,
        subprocess.Popen(
            [*COMMAND, "--env", "--api-key", "sk-served", "--access-log"],
            stdout=stdout,
            stderr=stderr,
        ) as server,
    ):
        try:
            exports = wait_for_lines(out, 2)
            shell = subprocess.run(
                ["bash", "-c", f'eval "$(head -n 2 {out})"; echo "$OPENAI_BASE_URL '
                 '$OPENAI_API_KEY $AZURE_OPENAI_ENDPOINT $AZURE_OPENAI_API_KEY"'],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            base_url, key, endpoint, azure_key = shell.stdout.split()
            with af.Client(key, base_url=base_url) as client:
                assert client.files.list().data == []
            with af.Client(azure_key, provider="azure", base_url=endpoint) as client:
                assert client.files.list().data == []
            banner, *log = wait_for_lines(err, 3)
            assert banner.startswith(f"aikit-files: serving {endpoint} (data in a temporary ")
            # Every access-log line starts with its time (UTC, to the millisecond).
            assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", line) for line in log)
            assert '"GET /v1/files HTTP/1.1" 200' in log[0]
        finally:
            server.send_signal(signal.SIGINT)
            status = server.wait(timeout=30)
    assert status == 0
    assert exports == [
        f"export OPENAI_BASE_URL={base_url} OPENAI_API_KEY=sk-served",
        f"export AZURE_OPENAI_ENDPOINT={endpoint} AZURE_OPENAI_API_KEY=sk-served",
    ]
    assert out.read_text().splitlines() == exports  # nothing else, ever
    assert err.read_text().splitlines()[-1] == "aikit-files: stopped"


def test_without_env_the_banner_and_exports_are_on_stdout_and_ctrl_c_stops(
    tmp_path: pathlib.Path,
) -> None:
    with subprocess.Popen(
        [*COMMAND, "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as server:  # fmt: skip
        assert server.stdout is not None
        banner = server.stdout.readline()
        url = banner.split()[2]
        assert banner == f"aikit-files: serving {url} (data in {tmp_path / 'data'})\n"
        assert server.stdout.readline().split() == [
            "export",
            f"OPENAI_BASE_URL={url}/v1",
            "OPENAI_API_KEY=sk-local",
        ]
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert (server.returncode, err) == (0, "")
    assert out.splitlines()[-1] == "aikit-files: stopped"
