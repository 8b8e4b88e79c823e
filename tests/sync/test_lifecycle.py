"""The sync client's life: a client closed, forgotten, dropped or never named finishes every
call it started and delivers each callback exactly once, and leaves no thread behind."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import aikit_files as af
from aikit_files.server import ServerThread

#: A script that starts 200 uploads with callbacks and then ends in one of several ways; at
#: exit it prints how many files were delivered exactly once, how many results in all, and how
#: many failed.
SCRIPT = textwrap.dedent(
    """
    import atexit, gc, sys, threading
    import aikit_files as af

    lock = threading.Lock()
    counts = {}

    def on_terminate(result):
        with lock:
            key = result.file.filename if result.success else "error"
            counts[key] = counts.get(key, 0) + 1

    def report():
        ok = sum(1 for k, v in counts.items() if k != "error" and v == 1)
        print(ok, sum(counts.values()), counts.get("error", 0), flush=True)

    atexit.register(report)

    def start(client):
        for i in range(200):
            client.files.create(b"%d" % i, "user_data", filename=f"{i}.txt", on_terminate=on_terminate)

    def make():
        return af.Client(api_key=sys.argv[2], base_url=sys.argv[1])

    ENDING
    """
)

ENDINGS = {
    "closed": "client = make(); start(client); client.close()",
    "forgotten": "client = make(); start(client)",
    "dropped": "start(make()); gc.collect()",
    "dropped in a function": "def f():\n    c = make()\n    start(c)\nf(); gc.collect()",
}


def check_every_call_delivered(server: ServerThread, script: str) -> None:
    """Runs ``script`` (``SCRIPT`` with its ending) and checks that each of its 200 files was
    made and delivered exactly once, with no error and nothing left unclosed."""
    out = subprocess.run(
        [sys.executable, "-c", script, server.openai_base_url, str(server.api_key)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        check=True,
    )
    assert out.stdout.split() == ["200", "200", "0"], out.stderr
    assert "Unclosed" not in out.stderr, out.stderr
    assert "Error" not in out.stderr, out.stderr
    with af.Client(api_key=server.api_key, base_url=server.openai_base_url) as client:
        names = sorted(f.filename for f in client.files.iterate())
    assert names == sorted(f"{i}.txt" for i in range(200))


@pytest.mark.parametrize("ending", ENDINGS)
def test_every_started_call_delivers_exactly_once(local_server: ServerThread, ending: str) -> None:
    check_every_call_delivered(local_server, SCRIPT.replace("ENDING", ENDINGS[ending]))


def test_a_dropped_client_finishes_its_call_and_delivers(local_server: ServerThread) -> None:
    done = threading.Event()
    results: list[af.Result] = []

    def on_terminate(result: af.Result) -> None:
        results.append(result)
        done.set()

    def fire_and_forget() -> None:
        client = af.Client(local_server.api_key, base_url=local_server.openai_base_url)
        client.files.create(
            b"x" * 100_000, "user_data", filename="kept.txt", on_terminate=on_terminate
        )

    fire_and_forget()
    gc.collect()
    assert done.wait(30)
    (result,) = results
    assert result.success, result.errors
    assert not result.cancelled
    with af.Client(local_server.api_key, base_url=local_server.openai_base_url) as client:
        assert [f.filename for f in client.files.iterate()] == ["kept.txt"]


def test_a_client_used_without_a_name_works(local_server: ServerThread) -> None:
    page = af.Client(local_server.api_key, base_url=local_server.openai_base_url).files.list()
    assert page.data == []
    gc.collect()


def new_threads(before: set[threading.Thread]) -> list[str]:
    """The threads running now that were not running ``before`` (so the count holds whatever
    an earlier test left behind)."""
    return [t.name for t in threading.enumerate() if t not in before]


def test_dropped_idle_clients_leave_no_thread(local_server: ServerThread) -> None:
    before = set(threading.enumerate())
    for _ in range(10):
        client = af.Client(local_server.api_key, base_url=local_server.openai_base_url)
        client.files.list()
        del client
    gc.collect()
    deadline = time.monotonic() + 10
    while new_threads(before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert new_threads(before) == []


def test_closed_clients_leave_no_thread(local_server: ServerThread) -> None:
    before = set(threading.enumerate())
    for _ in range(5):
        with af.Client(local_server.api_key, base_url=local_server.openai_base_url) as client:
            client.files.list()
    assert new_threads(before) == []
