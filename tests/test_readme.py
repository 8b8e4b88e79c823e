"""The README's Python examples run as written against the local Files API server, and do what
they say: each prints what it should and leaves the server holding what it should.

Exit codes alone prove little here: two examples catch the errors they expect, and a callback
that raises is only logged, so a broken example could still exit 0.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

import aikit_files as af
from aikit_files.server import ServerThread

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCKS: list[str] = re.findall(
    r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL
)

#: The ``train.jsonl`` the examples upload, in their working folder.
TRAIN = (
    b'{"messages": [{"role": "user", "content": "hi"}, '
    b'{"role": "assistant", "content": "hello"}]}\n'
)
SIZE = len(TRAIN)
#: A file id, as the local server makes them.
FILE_ID = r"file-[0-9a-f]+"


@attrs.frozen
class Run:
    """An example that ran: what it printed, and where."""

    stdout: str
    folder: Path
    server: ServerThread
    code: str

    def client(self) -> af.Client:
        """A client of the server the example talked to, to see what it holds now."""
        return af.Client(self.server.api_key, base_url=self.server.openai_base_url)

    def files(self) -> list[af.OpenAIFile]:
        """The files the server holds, oldest first."""
        with self.client() as client:
            return list(client.files.iterate(order="asc"))

    def content(self, file_id: str) -> bytes:
        with self.client() as client:
            return client.files.content(file_id)


def matches(pattern: str, run: Run) -> re.Match[str]:
    match = re.fullmatch(pattern, run.stdout)
    assert match, f"the example printed:\n{run.stdout}\nnot:\n{pattern}"
    return match


def check_the_tour(run: Run) -> None:
    (train,) = run.files()  # the note was deleted
    assert (train.filename, train.purpose, train.bytes) == ("train.jsonl", "fine-tune", SIZE)
    assert run.content(train.id) == TRAIN
    assert (run.folder / "copy.jsonl").read_bytes() == TRAIN
    match = matches(
        rf"(?:\d+ of {SIZE} bytes sent\n)*{SIZE} of {SIZE} bytes sent\n"
        rf"2 {train.id} ({FILE_ID}) False\n"  # one page: train, then the note
        rf"{train.id} train\.jsonl {SIZE}\n"
        r"b'hello'\n"
        r"copy\.jsonl processed\n"
        r"404 \S.* req_[0-9a-f]+\n",
        run,
    )
    assert match.group(1) != train.id


def there_is_a_file(server: ServerThread) -> None:
    with af.Client(server.api_key, base_url=server.openai_base_url) as client:
        client.files.create(b"x", "assistants", filename="there.txt")


def check_the_timeouts(run: Run) -> None:
    (there,) = run.files()
    assert run.stdout == f"[{there.id!r}]\n"


def check_the_callback(run: Run) -> None:
    (notes,) = run.files()
    assert (notes.filename, notes.purpose) == ("notes.jsonl", "user_data")
    assert run.content(notes.id) == b'{"prompt": "hi"}\n'
    assert run.stdout == f"uploaded {notes.id}\n"


def check_the_sync_client(run: Run) -> None:
    assert run.files() == []  # made, then deleted
    match = matches(
        rf"({FILE_ID}) train\.jsonl {SIZE}\n"
        r"(FileDeletedResult\(success=True, errors=\[\], terminated=True, .*)\n",
        run,
    )
    assert f"deleted=FileDeleted(id='{match.group(1)}', deleted=True" in match.group(2)


def check_the_server_thread(run: Run) -> None:
    assert run.files() == []  # the example ran a server of its own
    matches(rf"{FILE_ID} processed b'\{{\"prompt\": \"hi\"\}}\\n'\n", run)


def check_the_large_file(run: Run) -> None:
    (train,) = run.files()
    assert run.content(train.id) == TRAIN  # in Parts of 64 bytes, put back together
    assert run.stdout == f"train.jsonl {SIZE}\n"


def check_the_file_check(run: Run) -> None:
    assert run.files() == []  # the check failed: nothing was sent
    assert run.stdout == (
        "False chat 1\n"
        "1 training example: fine-tuning needs at least 10\n"
        "1 problem(s): nothing was sent\n"
    )


def check_the_azure_client(run: Run) -> None:
    (train,) = run.files()  # the Azure routes and the OpenAI ones share the server's files
    assert (train.filename, train.purpose, train.status) == (
        "train.jsonl",
        "fine-tune",
        "processed",
    )
    assert run.content(train.id) == TRAIN
    assert run.stdout in ("pending -> processed\n", "running -> processed\n")


def check_the_plugin_example(run: Run) -> None:
    # The block is a test module: run as a script it defines tests; run by pytest, as in a
    # user's project, its tests pass against the fixtures the installed plugin gives.
    assert run.stdout == ""
    (run.folder / "test_example.py").write_text(run.code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        cwd=run.folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def check_the_fault_proxy(run: Run) -> None:
    assert run.files() == []  # the example ran a server of its own
    assert run.stdout == "hello.txt 1\n"  # the lost answer made no second file


def check_the_many_files(run: Run) -> None:
    files = run.files()
    assert sorted(f.filename for f in files) == ["a.txt", "b.txt", "train.jsonl"]
    assert {f.purpose for f in files} == {"assistants"}
    assert run.stdout == ("created docs/a.txt\ncreated docs/b.txt\ncreated train.jsonl\n0 3 True\n")
    assert (run.folder / "docs.manifest").is_file()


@attrs.frozen
class Example:
    """How to check the README block that contains ``marker``."""

    marker: str
    check: Callable[[Run], None]
    prepare: Callable[[ServerThread], None] = lambda server: None


EXAMPLES = [
    Example("client.files.wait_for_processing(train.id)", check_the_tour),
    Example("af.Timeout(connect=5", check_the_timeouts, prepare=there_is_a_file),
    Example("def uploaded(", check_the_callback),
    Example("with af.Client() as client:", check_the_sync_client),
    Example(
        'ServerThread(data, api_key="sk-local") as server:\n    with af', check_the_server_thread
    ),
    Example("FaultProxy(server.url", check_the_fault_proxy),
    Example('provider="azure"', check_the_azure_client),
    Example("def test_my_upload_job(", check_the_plugin_example),
    Example("upload_threshold=64", check_the_large_file),
    Example("af.check_file(", check_the_file_check),
    Example("create_many(", check_the_many_files),
]


def example_of(code: str) -> Example:
    (example,) = [example for example in EXAMPLES if example.marker in code]
    return example


def test_every_example_is_checked() -> None:
    assert len(BLOCKS) == len(EXAMPLES)
    assert sorted(EXAMPLES.index(example_of(code)) for code in BLOCKS) == list(range(len(BLOCKS)))


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code: str, local_server: ServerThread, tmp_path: Path) -> None:
    example = example_of(code)
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "train.jsonl").write_bytes(TRAIN)
    example.prepare(local_server)
    env = {
        **os.environ,
        "OPENAI_API_KEY": str(local_server.api_key),
        "OPENAI_BASE_URL": local_server.openai_base_url,
        "AZURE_OPENAI_API_KEY": str(local_server.api_key),
        "AZURE_OPENAI_ENDPOINT": local_server.azure_endpoint,
        "PYTHONWARNINGS": "error",
        # A resumable upload keeps its journal in the cache folder: the test's own.
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # A callback that raises is logged, not raised: the example would still exit 0.
    assert done.stderr == ""
    example.check(Run(done.stdout, folder, local_server, code))


def install_line() -> list[str]:
    """The first command of the README's Install section (``pip install .``), as arguments."""
    section = README.read_text(encoding="utf-8").split("\n## Install\n", 1)[1]
    (block,) = re.findall(r"```sh\n(.*?)```", section.split("\n## ", 1)[0], re.DOTALL)
    return shlex.split(block.splitlines()[0], comments=True)


@pytest.mark.venv
@pytest.mark.timeout(600)
def test_the_testing_example_passes_after_the_install_steps(tmp_path: Path) -> None:
    # As a newcomer would: a fresh venv, the README's install line run in the clone, pytest,
    # and the README's test example in a project of its own, with nothing else installed.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    pip, *arguments = install_line()
    assert (pip, arguments) == ("pip", ["install", "."])
    # NOTE: nothing of the suite's own environment may reach the venv (PYTHONPATH would import
    # this clone's package instead of the installed one; PYTEST_* would load other plugins).
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTHON", "PYTEST_", "VIRTUAL_ENV"))
    }
    for command in ([*arguments], ["install", "pytest"]):
        done = subprocess.run(
            [venv / "bin" / "pip", "--disable-pip-version-check", "-q", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=480,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_files_job.py").write_text(
        example_code("def test_my_upload_job("), encoding="utf-8"
    )
    done = subprocess.run(
        [venv / "bin" / "python", "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout, done.stdout


def example_code(marker: str) -> str:
    """The README's Python block that holds ``marker``."""
    (code,) = [code for code in BLOCKS if marker in code]
    return code
