"""``aikit-files serve`` (as ``python -m aikit_files serve``): it serves, then stops on SIGTERM."""

from __future__ import annotations

import os
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


def test_serve_without_a_data_dir_takes_its_settings_from_the_command_line_and_env() -> None:
    command = [sys.executable, "-m", "aikit_files", "serve", "--port", "0", "--access-log"]
    command += ["--max-storage", "5", "--idle-timeout", "30", "--allow-private-import"]
    environment = {**os.environ, "AIKIT_FILES_API_KEY": "sk-env"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment) as server:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("aikit-files: serving http://127.0.0.1:")
        url = first.split()[2]
        assert "temporary directory, removed on exit: " in first
        data_dir = pathlib.Path(first.rsplit(": ", 1)[1].strip().rstrip(")"))
        assert data_dir.is_dir()
        assert server.stdout.readline().split() == [
            "export",
            f"OPENAI_BASE_URL={url}/v1",
            "OPENAI_API_KEY=sk-env",
        ]
        assert server.stdout.readline().split() == [
            "export",
            f"AZURE_OPENAI_ENDPOINT={url}",
            "AZURE_OPENAI_API_KEY=sk-env",
        ]
        with openai.OpenAI(base_url=f"{url}/v1", api_key="sk-env", max_retries=0) as sdk:
            created = sdk.files.create(file=b"hi", purpose="user_data")
            with pytest.raises(openai.BadRequestError, match="storage quota"):
                sdk.files.create(file=b"1234", purpose="user_data")
            with pytest.raises(openai.AuthenticationError):
                sdk.with_options(api_key="sk-other").files.list()
        assert (data_dir / "files" / f"{created.id}.json").is_file()
        log = [server.stdout.readline() for _ in range(3)]
        assert '"POST /v1/files HTTP/1.1" 200 ' in log[0]
        assert '"POST /v1/files HTTP/1.1" 400 ' in log[1]
        assert '"GET /v1/files HTTP/1.1" 401 ' in log[2]
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    assert not data_dir.exists()


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
