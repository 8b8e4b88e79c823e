"""The typing of both twins: what a type checker infers, and that a misspelt option is an error.

``check_inferred_types`` is never run: mypy (part of ``make test``) checks its ``assert_type``s.
``test_a_misspelt_option_is_a_type_error`` runs mypy on a snippet.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import pathlib
import re
import subprocess
import sys
import textwrap
from typing import assert_type

import aikit_files as af


def check_inferred_types(client: af.Client, path: pathlib.Path) -> None:
    files = client.files
    assert_type(files.create(path, "assistants", filename="a.txt"), af.OpenAIFile)
    assert_type(files.retrieve("file-1", timeout=5), af.OpenAIFile)
    assert_type(files.list(limit=5, order="asc"), af.FileList)
    assert_type(files.delete("file-1"), af.FileDeleted)
    assert_type(files.content("file-1"), bytes)
    assert_type(files.download("file-1", path), pathlib.Path)
    assert_type(files.wait_for_processing("file-1", poll_interval=0.5), af.OpenAIFile)
    assert_type(files.import_url("https://x/a.jsonl", "a.jsonl", "fine-tune"), af.OpenAIFile)
    assert_type(list(files.iterate(limit=5)), list[af.OpenAIFile])
    uploads = client.uploads
    assert_type(uploads.create("a.jsonl", "fine-tune", 10, "text/jsonl"), af.Upload)
    assert_type(uploads.add_part("upload_1", b"x"), af.UploadPart)
    assert_type(uploads.complete("upload_1", ["part_1"], md5="0" * 32), af.Upload)
    assert_type(uploads.cancel("upload_1"), af.Upload)
    assert_type(
        uploads.cancel("upload_1", on_terminate=print),
        af.Upload | concurrent.futures.Future[af.Upload],
    )
    assert_type(
        files.retrieve("file-1", on_terminate=print),
        af.OpenAIFile | concurrent.futures.Future[af.OpenAIFile],
    )
    assert_type(
        files.list(af.FileListParameters(limit=5)),
        af.FileList | concurrent.futures.Future[af.FileList],
    )


def check_inferred_async_types(client: af.AsyncClient, path: pathlib.Path) -> None:
    files = client.files
    assert_type(files.create(path, "assistants", filename="a.txt"), asyncio.Task[af.OpenAIFile])
    assert_type(files.retrieve("file-1", on_terminate=print), asyncio.Task[af.OpenAIFile])
    assert_type(files.download("file-1", path, on_progress=None), asyncio.Task[pathlib.Path])
    assert_type(client.uploads.complete("upload_1", [], md5=None), asyncio.Task[af.Upload])


#: Each line of the snippet that ends with ``# error`` must be a mypy error, and no other line.
SNIPPET = """
    import aikit_files as af

    async def use_async(client: af.AsyncClient) -> None:
        await client.files.retrieve("file-1", on_terminate=print, timeout=5)
        await client.files.retrieve("file-1", on_terminat=print)  # error
        await client.files.create(b"x", "user_data", filname="a.txt")  # error
        await client.files.create(b"x", "user_data", filename="a.txt", part_size=1)
        await client.files.create(b"x", "user_data", part_size="big")  # error
        await client.files.list(limt=5)  # error
        await client.uploads.cancel("upload_1", on_eror=print)  # error

    def use_sync(client: af.Client) -> None:
        client.files.retrieve("file-1", on_terminate=print, timeout=5)
        client.files.retrieve("file-1", on_terminat=print)  # error
        client.files.create(b"x", "user_data", filname="a.txt")  # error
        client.files.create(b"x", "user_data", filname="a.txt", on_terminate=print)  # error
        client.files.create(b"x", "user_data", filename="a.txt", on_terminate=print)
        client.files.list(limt=5)  # error
        client.files.iterate(on_terminate=print)  # error
        client.uploads.cancel("upload_1", on_eror=print)  # error

    af.AsyncClient(base_ur="http://x")  # error
    af.Client(base_ur="http://x")  # error
    af.Client(base_url="http://x", max_retries=1)
"""


def test_a_misspelt_option_is_a_type_error(tmp_path: pathlib.Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(textwrap.dedent(SNIPPET))
    expected = {
        number
        for number, line in enumerate(snippet.read_text().splitlines(), 1)
        if line.endswith("# error")
    }
    package_root = pathlib.Path(af.__file__).parent.parent
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file=",
         "--cache-dir", str(tmp_path / "cache"), str(snippet)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**os.environ, "MYPYPATH": str(package_root)},
    )  # fmt: skip
    found = {int(n) for n in re.findall(r"snippet\.py:(\d+): error", run.stdout)}
    assert found == expected, run.stdout
