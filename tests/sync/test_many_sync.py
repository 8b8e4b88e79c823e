"""The sync twin of create_many: blocking, or a Future with callbacks, on_file off the loop."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import aikit_files as af
from aikit_files.server import ServerThread


@pytest.fixture
def client(local_server: ServerThread) -> Iterator[af.Client]:
    with af.Client(api_key=local_server.api_key, base_url=local_server.openai_base_url) as client:
        yield client


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    for i in range(5):
        (root / f"{i}.txt").write_bytes(b"x" * (i + 1))
    return root


def test_blocking_with_on_file_off_the_loop_thread(client: af.Client, folder: Path) -> None:
    loop_thread = client._here().runtime.call(threading.get_ident)
    threads: list[int] = []
    sent: list[int] = []
    result = client.files.create_many(
        [folder],
        "assistants",
        concurrency=2,
        on_file=lambda r: threads.append(threading.get_ident()),
        on_progress=lambda done, total: sent.append(done),
    )
    assert isinstance(result, af.ManyResult)
    assert (result.created, result.failed) == (5, 0)
    assert [r.outcome for r in result.results] == ["created"] * 5
    assert len(threads) == 5
    assert loop_thread not in threads
    assert max(sent) == 15
    again = client.files.create_many([folder], "assistants", skip_existing=True)
    assert isinstance(again, af.ManyResult)
    assert again.skipped == 5


def test_with_callbacks_a_future(client: af.Client, folder: Path) -> None:
    order: list[str] = []
    ended = threading.Event()

    def on_terminate(result: af.Result) -> None:
        assert isinstance(result, af.ManyResult)
        order.append(f"terminate {result.created}")
        ended.set()

    future = client.files.create_many(
        [folder], "assistants", on_file=lambda r: order.append("file"), on_terminate=on_terminate
    )
    assert isinstance(future, concurrent.futures.Future)
    result = future.result(timeout=30)
    assert ended.wait(30)
    assert result.created == 5
    assert order == ["file"] * 5 + ["terminate 5"]


def test_a_bad_argument_raises_at_once(client: af.Client, folder: Path) -> None:
    with pytest.raises(af.InvalidArgumentError, match="concurrency"):
        client.files.create_many([folder], "assistants", concurrency=0)
