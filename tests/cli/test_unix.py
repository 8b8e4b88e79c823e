"""The command line among the tools it is piped into, each in a process of its own: stdin and
stdout as ``-``, streaming in constant memory, a terminal (a pseudo-terminal) that gets no
binary, a closed pipe, and SIGINT in the middle of an upload."""

from __future__ import annotations

import json
import os
import pathlib
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

import aikit_files as af
from aikit_files.server import ServerThread
from aikit_files.testing import Delay, FaultProxy, Rule, Stall

from .conftest import KEY, environment

MiB = 1024 * 1024
COMMAND = [sys.executable, "-m", "aikit_files"]


@pytest.fixture
def api(server: ServerThread) -> Iterator[af.Client]:
    with af.Client(KEY, base_url=server.openai_base_url, max_retries=0) as client:
        yield client


def run(
    *argv: str, server: ServerThread, stdin: bytes | None = None, **env: str
) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(
        [*COMMAND, *argv],
        input=stdin,
        capture_output=True,
        env=environment(server) | env,
        timeout=60,
        check=False,
    )
    assert b"Traceback" not in done.stderr
    return done


def on_a_terminal(*argv: str, server: ServerThread, timeout: float = 60) -> tuple[int, bytes]:
    """Runs the command with stdout and stderr on a pseudo-terminal; its status and what the
    terminal showed."""
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [*COMMAND, *argv], stdout=follower, stderr=follower, env=environment(server)
    ) as process:
        os.close(follower)
        shown = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the follower closed: the process is done
                    break
                if not chunk:
                    break
                shown += chunk
            elif process.poll() is not None:
                break
        status = process.wait(timeout=30)
    os.close(leader)
    return status, shown


# --- stdin and stdout ---


def test_upload_reads_stdin_and_download_writes_stdout(
    server: ServerThread, api: af.Client
) -> None:
    data = b'{"prompt": "a"}\n' * 1000
    done = run("--json", "upload", "-", "--filename", "piped.jsonl", "--purpose", "user_data",
               server=server, stdin=data)  # fmt: skip
    assert (done.returncode, done.stderr) == (0, b"")
    uploaded = json.loads(done.stdout)
    assert (uploaded["filename"], uploaded["bytes"]) == ("piped.jsonl", len(data))
    done = run("download", uploaded["id"], "-", server=server)
    assert (done.returncode, done.stdout, done.stderr) == (0, data, b"")
    assert not pathlib.Path("-").exists()


def test_content_streams_in_constant_memory(server: ServerThread, api: af.Client) -> None:
    small = api.files.create(b"x", "user_data", filename="small.bin")
    large = api.files.create(
        os.urandom(96 * MiB), "user_data", filename="large.bin", upload_threshold=0,
        part_size=32 * MiB,
    )  # fmt: skip
    peaks = {}
    for name, file_id in (("small", small.id), ("large", large.id)):
        script = (
            "import resource, sys\n"
            "from aikit_files.cli import main\n"
            f"status = main(['content', '{file_id}'])\n"
            "sys.stderr.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
            "sys.exit(status)\n"
        )
        with open(os.devnull, "wb") as sink:
            done = subprocess.run(
                [sys.executable, "-c", script], stdout=sink, stderr=subprocess.PIPE,
                env=environment(server), timeout=120, check=False,
            )  # fmt: skip
        assert done.returncode == 0, done.stderr
        peaks[name] = int(done.stderr) * 1024  # ru_maxrss is in KiB on Linux
    # 96 MiB went through; the process grew by a fraction of it (buffers, not the file).
    assert peaks["large"] - peaks["small"] < 24 * MiB, peaks


# --- a terminal ---


def test_binary_content_is_refused_on_a_terminal_unless_told(
    server: ServerThread, api: af.Client
) -> None:
    binary = api.files.create(b"\x00\x01\x02 binary \xff", "user_data", filename="b.bin")
    status, shown = on_a_terminal("content", binary.id, server=server)
    assert status == 1
    assert shown.decode().strip() == (
        "aikit-files: the content is binary and stdout is a terminal: pass --output - to "
        f"write it here anyway (aikit-files content {binary.id} --output -), or redirect "
        "stdout to a file or a pipe"
    )
    status, shown = on_a_terminal("content", binary.id, "--output", "-", server=server)
    assert status == 0
    assert b"binary" in shown
    text = api.files.create("café\n".encode(), "user_data", filename="t.txt")
    status, shown = on_a_terminal("content", text.id, server=server)
    assert (status, shown) == (0, "café\r\n".encode())  # the terminal's own newline


def test_after_the_last_byte_a_large_upload_shows_completing(
    server: ServerThread, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "large.bin"
    path.write_bytes(os.urandom(2 * MiB))
    # The server takes 2 s to answer the complete: the bar must not sit at 100 % looking hung.
    with FaultProxy(server.url, [Rule(Delay(2.0), method="POST", path="/v1/uploads/")]) as proxy:
        status, shown = on_a_terminal(
            "--base-url", proxy.url + "/v1", "upload", str(path), "--purpose", "user_data",
            "--upload-threshold", "1M", "--part-size", "1M", server=server,
        )  # fmt: skip
    assert status == 0, shown
    assert b"completing" in shown
    assert b"uploaded " in shown


# --- a closed pipe ---


@pytest.mark.parametrize("command", ["content", "list"])
def test_a_closed_pipe_ends_quietly_with_141_every_time(
    server: ServerThread, api: af.Client, command: str
) -> None:
    if command == "content":
        argv = f"content {api.files.create(os.urandom(2 * MiB), 'user_data').id}"
    else:
        # NOTE: more than a pipe's buffer (64 KiB) of JSON: the reader is gone before the
        # writer is done, whatever the timing.
        for index in range(400):
            api.files.create(b"x", "user_data", filename=f"file-{index:03}.txt")
        argv = "list --json"
    script = f'{" ".join(COMMAND)} {argv} | head -c 5 >/dev/null; echo "${{PIPESTATUS[0]}}"'
    # The case (list) ten times; content, whose bytes are many, three.
    for _ in range(10 if command == "list" else 3):
        done = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True,
            env=environment(server), timeout=60, check=False,
        )  # fmt: skip
        assert (done.stdout, done.stderr) == ("141\n", "")


# --- SIGINT ---


def interrupt_when(process: subprocess.Popen[bytes], ready: object, timeout: float = 30) -> None:
    """Sends SIGINT once ``ready()`` is true."""
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)


@pytest.mark.parametrize("resume", [False, True], ids=["cancelled", "resumable"])
def test_sigint_mid_upload_says_what_became_of_it(
    server: ServerThread, api: af.Client, tmp_path: pathlib.Path, resume: bool
) -> None:
    path = tmp_path / "large.bin"
    path.write_bytes(os.urandom(3 * MiB))
    stall = Rule(Stall(0, where="request"), method="POST", path="/v1/uploads/", ordinal=2)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    with FaultProxy(server.url, [stall]) as proxy:
        argv = [*COMMAND, "--base-url", proxy.url + "/v1", "upload", str(path), "--purpose",
                "user_data", "--upload-threshold", "1M", "--part-size", "1M",
                "--concurrency", "1", *(["--resume"] if resume else [])]  # fmt: skip
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment(server) | env
        ) as process:
            # The first Part is through; the second stalls on its way.
            interrupt_when(process, lambda: len(proxy.exchanges) >= 3)
            out, err = process.communicate(timeout=30)
        assert (process.returncode, out) == (130, b""), err
        (line,) = err.decode().splitlines()
        assert api.files.list().data == []
        if not resume:
            assert line == f"aikit-files: cancelled: {path} was not uploaded"
            return
        journal = line.rsplit("(journal: ", 1)[1].rstrip(")")
        assert line == (
            f"aikit-files: interrupted: run the same command again to resume (journal: {journal})"
        )
        assert pathlib.Path(journal).is_file()
        proxy.clear_rules()
        done = subprocess.run(argv, capture_output=True, env=environment(server) | env,
                              timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().splitlines()[0] == (
        "resuming large.bin: 1 of 3 Parts already sent (1 MiB (1,048,576 bytes) of "
        "3 MiB (3,145,728 bytes))"
    )
    (file,) = api.files.list().data
    assert api.files.content(file.id) == path.read_bytes()
    assert not pathlib.Path(journal).exists()
