"""``ServerThread``: start, stop, restart on the same port, and failures reported to ``start``."""

from __future__ import annotations

import pathlib

import openai
import pytest

from aikit_files.server import ServerThread


def test_restart_keeps_the_port_and_the_files(tmp_path: pathlib.Path) -> None:
    server = ServerThread(tmp_path / "data")
    assert server.api_key is None
    with server:
        assert server.port != 0
        assert server.openai_base_url == f"http://127.0.0.1:{server.port}/v1"
        assert server.azure_endpoint == server.url
        port = server.port
        with openai.OpenAI(base_url=server.openai_base_url, api_key="any", max_retries=0) as sdk:
            created = sdk.files.create(file=b"kept", purpose="user_data")
    server.stop()  # stopping twice is harmless
    with server:
        assert server.port == port
        with openai.OpenAI(base_url=server.openai_base_url, api_key="any", max_retries=0) as sdk:
            assert sdk.files.content(created.id).content == b"kept"


def test_start_twice_is_an_error(tmp_path: pathlib.Path) -> None:
    with ServerThread(tmp_path / "data") as server, pytest.raises(RuntimeError):
        server.start()


def test_a_data_dir_that_is_a_file_fails_start(tmp_path: pathlib.Path) -> None:
    (tmp_path / "data").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        ServerThread(tmp_path / "data").start()


def test_an_unknown_option_fails_start(tmp_path: pathlib.Path) -> None:
    with pytest.raises(TypeError):
        ServerThread(tmp_path / "data", file_limt=1).start()
