"""The command line as users run it: ``python -m aikit_files`` and the ``aikit-files`` script,
in a process of their own (exit statuses, binary stdout, an interrupt, what is imported)."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

from aikit_files.server import ServerThread

from .conftest import KEY, environment


def aikit_files(
    *argv: str, server: ServerThread | None = None
) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(
        [sys.executable, "-m", "aikit_files", *argv],
        capture_output=True,
        env=environment(server),
        timeout=60,
        check=False,
    )
    assert b"Traceback" not in done.stderr
    assert KEY.encode() not in done.stdout + done.stderr
    return done


def test_upload_list_and_content_through_python_m(
    server: ServerThread, tmp_path: pathlib.Path
) -> None:
    data = b'{"prompt": "caf\xc3\xa9"}\n\x00\xff'
    (tmp_path / "a.bin").write_bytes(data)
    done = aikit_files("--json", "upload", str(tmp_path / "a.bin"), "--purpose", "user_data",
                       server=server)  # fmt: skip
    assert (done.returncode, done.stderr) == (0, b"")
    uploaded = json.loads(done.stdout)
    listed = json.loads(aikit_files("list", "--json", server=server).stdout)
    assert listed["data"] == [uploaded]
    done = aikit_files("content", uploaded["id"], server=server)
    assert (done.returncode, done.stdout, done.stderr) == (0, data, b"")


def test_errors_and_usage_errors_exit_1_and_2(server: ServerThread) -> None:
    done = aikit_files("get", "file-nope", server=server)
    assert (done.returncode, done.stdout) == (1, b"")
    assert done.stderr == b"aikit-files: no such file: file-nope\n"
    done = aikit_files("upload", "--purpose", "x")
    assert done.returncode == 2
    assert done.stderr.decode().startswith("aikit-files upload: the following arguments")
    assert len(done.stderr.splitlines()) == 1


def test_the_installed_script() -> None:
    script = pathlib.Path(sys.executable).parent / "aikit-files"
    if not script.exists():
        pytest.skip("the aikit-files script is not installed beside this Python")
    done = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.split()[0], done.stderr) == (0, "aikit-files", "")


def test_an_interrupt_exits_130_with_one_line() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.settimeout(30)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        command = [sys.executable, "-m", "aikit_files", "--api-key", "sk-x", "--base-url", url]
        with subprocess.Popen(
            [*command, "list"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        ) as process:
            connection, _ = silent.accept()  # the request is on its way
            with connection:
                time.sleep(0.2)
                process.send_signal(signal.SIGINT)
                try:
                    out, err = process.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    # NOTE: where the command hung (faulthandler prints every thread's stack on
                    # SIGABRT), and the command gone, so no later test inherits it.
                    process.send_signal(signal.SIGABRT)
                    _, err = process.communicate(timeout=30)
                    pytest.fail("SIGINT did not stop the command:\n" + err.decode(errors="replace"))
    assert (process.returncode, out, err) == (130, b"", b"aikit-files: cancelled\n")


def test_commands_import_neither_rich_nor_the_server(server: ServerThread) -> None:
    script = (
        "import sys\n"
        "from aikit_files.cli import main\n"
        "assert main(['-q', 'list']) == 0\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'rich' or "
        "m.startswith('aikit_files.server')]\n"
        "print(loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=environment(server),
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")
