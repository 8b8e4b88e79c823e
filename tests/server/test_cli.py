"""``aikit-files serve`` (as ``python -m aikit_files serve``): it serves, then stops on SIGTERM."""

from __future__ import annotations

import pathlib
import signal
import socket
import subprocess
import sys

import openai
import pytest

from aikit_files.cli import main


def test_serve_runs_until_terminated(tmp_path: pathlib.Path) -> None:
    command = [sys.executable, "-m", "aikit_files", "serve", "--port", "0"]
    command += ["--data-dir", str(tmp_path / "data"), "--api-key", "sk-cli"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("aikit-files: serving http://127.0.0.1:")
        url = line.split()[2]
        with openai.OpenAI(base_url=f"{url}/v1", api_key="sk-cli", max_retries=0) as sdk:
            created = sdk.files.create(file=b"hi", purpose="user_data")
            assert sdk.files.content(created.id).content == b"hi"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    assert (tmp_path / "data" / "files" / f"{created.id}.json").is_file()


def test_serve_needs_a_data_dir(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve"])
    assert exited.value.code == 2
    assert "--data-dir" in capsys.readouterr().err


def test_a_port_in_use_is_a_one_line_error(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = main(["serve", "--port", str(port), "--data-dir", str(tmp_path)])
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith("aikit-files: ")
    assert len(err.strip().splitlines()) == 1
