"""create_many against the local server: directories, skip_existing, manifests, failures of
single files, callbacks, cancellation and large files; 429s in ``test_many_pacing.py``, a
killed batch in ``test_many_killed.py``."""

from __future__ import annotations

import asyncio
import os
import pathlib
from collections.abc import AsyncGenerator
from typing import Any

import pytest

import aikit_files as af
from aikit_files._protocol.pacing import rate_limit_listener
from aikit_files.server import ServerThread
from aikit_files.testing import Delay, FaultProxy, Respond, Rule

from .conftest import eventually, pending_uploads

pytestmark = pytest.mark.anyio


def make_tree(root: pathlib.Path, names: list[str], size: int = 10) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode().ljust(size, b"."))


@pytest.fixture
def tree(tmp_path: pathlib.Path) -> pathlib.Path:
    """A folder with files, subfolders, hidden names, and links in and out."""
    root = tmp_path / "docs"
    names = "b.txt a.jsonl sub/c.txt sub/deep/d.txt .hidden.txt .git/config sub/.cache/e.txt"
    make_tree(root, [*names.split(), "skip/f.txt"])
    outside = tmp_path / "outside"
    make_tree(outside, ["secret.txt", "dir/leak.txt"])
    (root / "link-out.txt").symlink_to(outside / "secret.txt")
    (root / "dir-out").symlink_to(outside / "dir")
    (root / "link-in.txt").symlink_to(root / "b.txt")
    (root / "dangling.txt").symlink_to(tmp_path / "nowhere")
    (root / "sub" / "loop").symlink_to(root / "sub")
    return root


def relative(result: af.ManyResult, root: pathlib.Path) -> list[str]:
    return [os.path.relpath(str(r.source), root) for r in result.results]


def content_of(result: af.FileResult) -> bytes:
    return pathlib.Path(str(result.source)).read_bytes()


async def stored(client: af.AsyncClient, purpose: str = "assistants") -> list[af.OpenAIFile]:
    return [f async for f in client.files.iterate(purpose=purpose)]


async def test_a_directory_in_sorted_path_order_never_leaving_it(
    client: af.AsyncClient, tree: pathlib.Path
) -> None:
    result = await client.files.create_many([tree], "assistants")
    assert isinstance(result, af.ManyResult)
    assert result.success
    sources = relative(result, tree)
    # The link inside is followed, as its own name; the links out, the dangling one and the
    # loop back into sub/ are not; hidden names are left out.
    assert sources == ["a.jsonl", "b.txt", "link-in.txt", "skip/f.txt", "sub/c.txt",
                       "sub/deep/d.txt"]  # fmt: skip
    assert (result.created, result.skipped, result.failed, result.not_started) == (6, 0, 0, 0)
    assert {r.outcome for r in result.results} == {"created"}
    files = {f.id: f for f in await stored(client)}
    assert len(files) == 6
    for r in result.results:
        assert r.file is not None
        assert str(r.source).endswith("/" + r.file.filename)
        content = await client.files.content(r.file.id)
        assert content == content_of(r)


async def test_include_exclude_and_hidden(client: af.AsyncClient, tree: pathlib.Path) -> None:
    result = await client.files.create_many(
        tree, "assistants", include=["*.txt", "*config"], exclude="skip/*", hidden=True
    )
    sources = relative(result, tree)
    assert sources == [".git/config", ".hidden.txt", "b.txt", "link-in.txt", "sub/.cache/e.txt",
                       "sub/c.txt", "sub/deep/d.txt"]  # fmt: skip
    assert result.created == 7


async def test_paths_pairs_and_blobs_in_the_order_given(
    client: af.AsyncClient, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "one.txt"
    path.write_bytes(b"one")
    with (tmp_path / "one.txt").open("rb") as opened:
        result = await client.files.create_many(
            [(b"blob", "blob.txt"), str(path), (path, "renamed.txt"), (opened, "opened.txt")],
            "user_data",
        )
    assert [r.source for r in result.results] == ["blob.txt", str(path), str(path), "opened.txt"]
    names = [r.file.filename for r in result.results if r.file is not None]
    assert names == ["blob.txt", "one.txt", "renamed.txt", "opened.txt"]
    assert result.created == 4


async def test_an_empty_batch(client: af.AsyncClient, tmp_path: pathlib.Path) -> None:
    result = await client.files.create_many([tmp_path], "assistants", include="*.none")
    assert result.success
    assert result.results == []


@pytest.mark.parametrize(
    ("arguments", "error", "words"),
    [
        ({"sources": b"blob"}, af.InvalidArgumentTypeError, "list of paths"),
        ({"sources": 7}, af.InvalidArgumentTypeError, "list of paths"),
        ({"sources": [b"blob"]}, af.InvalidArgumentError, "needs a filename"),
        ({"sources": [(b"blob",)]}, af.InvalidArgumentError, "(source, filename)"),
        ({"sources": [(b"blob", "")]}, af.InvalidArgumentError, "filename"),
        ({"sources": [(b"blob", 3)]}, af.InvalidArgumentTypeError, "filename"),
        ({"sources": ["missing.txt"]}, af.InvalidArgumentError, "no such file"),
        ({"sources": [3.5]}, af.InvalidArgumentTypeError, "file must be"),
        ({"concurrency": 0}, af.InvalidArgumentError, "concurrency"),
        ({"concurrency": "8"}, af.InvalidArgumentTypeError, "concurrency"),
        ({"concurrency": True}, af.InvalidArgumentTypeError, "concurrency"),
        ({"include": [1]}, af.InvalidArgumentTypeError, "include"),
        ({"exclude": 3}, af.InvalidArgumentTypeError, "exclude"),
        ({"hidden": "yes"}, af.InvalidArgumentTypeError, "hidden"),
        ({"skip_existing": 1}, af.InvalidArgumentTypeError, "skip_existing"),
        ({"on_file": "print"}, af.InvalidArgumentTypeError, "on_file"),
        ({"filename": "all.txt"}, af.InvalidArgumentError, "(source, filename) pair"),
        ({"resume": "journal.json"}, af.InvalidArgumentError, "resume"),
        ({"manifest": 5}, af.InvalidArgumentTypeError, "manifest"),
        ({"manifest": ""}, af.InvalidArgumentTypeError, "manifest"),
        ({"manifest": "nowhere/m.jsonl"}, af.InvalidArgumentError, "does not exist"),
        ({"manifest": "."}, af.InvalidArgumentError, "directory"),
        ({"manifest": "not-a-manifest.txt"}, af.InvalidArgumentError, "not a manifest"),
        ({"purpose": ""}, af.InvalidArgumentError, "purpose"),
        ({"max_retries": -1}, af.InvalidArgumentError, "max_retries"),
        ({"colour": "red"}, af.InvalidArgumentTypeError, "colour"),
        ({"extra_headers": {"Content-Type": "x"}}, af.InvalidArgumentError, "Content-Type"),
    ],
)
async def test_a_bad_argument_raises_at_once(
    client: af.AsyncClient,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    arguments: dict[str, Any],
    error: type[Exception],
    words: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not-a-manifest.txt").write_text("hello\n")
    (tmp_path / "ok.txt").write_text("ok")
    called: list[object] = []
    options: dict[str, Any] = {
        "sources": ["ok.txt"],
        "purpose": "assistants",
        "on_terminate": called.append,
        **arguments,
    }
    if not callable(options.get("on_file", print)):
        options.pop("on_terminate")
    with pytest.raises(error, match=None) as raised:
        client.files.create_many(**options)
    assert words in str(raised.value)
    await asyncio.sleep(0)
    assert called == []
    assert await stored(client) == []
    assert (tmp_path / "not-a-manifest.txt").read_text() == "hello\n"


async def test_an_async_iterable_is_refused(client: af.AsyncClient) -> None:
    async def chunks() -> AsyncGenerator[bytes]:
        yield b"x"

    stream = chunks()
    with pytest.raises(af.InvalidArgumentError, match="async iterable"):
        client.files.create_many([(stream, "s.txt")], "assistants")  # type: ignore[list-item]
    await stream.aclose()


async def test_skip_existing_lists_once_and_skips_same_name_and_size(
    local_server: ServerThread, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    make_tree(tmp_path / "src", ["a.txt", "b.txt", "c.txt"])
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        there = await client.files.create(tmp_path / "src" / "a.txt", "assistants")
        await client.files.create(b"another size", "assistants", filename="b.txt")
        await client.files.create(tmp_path / "src" / "c.txt", "user_data")
        first = len(proxy.exchanges)
        result = await client.files.create_many(
            [tmp_path / "src"], "assistants", skip_existing=True
        )
        assert [r.outcome for r in result.results] == ["skipped", "created", "created"]
        assert result.results[0].file == there
        assert result.results[0].success
        assert (result.created, result.skipped) == (2, 1)
        asked = [(e.method, e.path.split("?")[0]) for e in proxy.exchanges[first:]]
        assert asked.count(("GET", "/v1/files")) == 1
        assert asked.count(("POST", "/v1/files")) == 2


async def test_a_manifest_rerun_skips_what_is_there_and_sends_the_rest(
    local_server: ServerThread, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    src = tmp_path / "src"
    make_tree(src, ["a.txt", "b.txt", "c.txt", "d.txt"])
    manifest = tmp_path / "batch.manifest"
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        first = await client.files.create_many([src], "user_data", manifest=manifest)
        assert first.created == 4
        text = manifest.read_text()
        assert local_server.api_key is not None
        assert local_server.api_key not in text
        ids = [r.file.id for r in first.results if r.file is not None]
        assert all(i in text for i in ids)

        # b.txt is deleted on the server, c.txt rewritten (same size, later mtime), d.txt grown.
        await client.files.delete(ids[1])
        os.utime(src / "c.txt", ns=(1, (src / "c.txt").stat().st_mtime_ns + 10**9))
        (src / "d.txt").write_bytes(b"longer content now")
        (src / "e.txt").write_bytes(b"new")
        start = len(proxy.exchanges)
        second = await client.files.create_many([src], "user_data", manifest=manifest)
        assert [r.outcome for r in second.results] == [
            "skipped", "created", "created", "created", "created"
        ]  # fmt: skip
        assert second.results[0].file is not None
        assert second.results[0].file.id == ids[0]
        asked = [(e.method, e.path.split("?")[0]) for e in proxy.exchanges[start:]]
        assert asked.count(("GET", "/v1/files")) == 1
        assert asked.count(("POST", "/v1/files")) == 4

        third = await client.files.create_many([src], "user_data", manifest=manifest)
        assert third.skipped == 5
        assert third.created == 0
        # Every source made once more at most: what the server holds is each source's last.
        held = await stored(client, "user_data")
        assert len(held) == 4 + 4 - 1


async def test_a_file_failing_stops_no_other(
    local_server: ServerThread, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    make_tree(tmp_path / "src", [f"{i}.txt" for i in range(6)])
    proxy.add_rule(Rule(Respond(400), method="POST", path="/v1/files", ordinal=3))
    seen: list[af.FileResult] = []
    ends: list[af.Result] = []
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        result = await client.files.create_many(
            [tmp_path / "src"],
            "assistants",
            concurrency=1,
            on_file=seen.append,
            on_terminate=ends.append,
            on_error=ends.append,
        )
        assert [r.outcome for r in result.results] == ["created"] * 2 + ["failed"] + ["created"] * 3
        failed = result.results[2]
        assert not failed.success
        assert failed.errors[0].status == 400
        assert isinstance(failed.exception, af.BadRequestError)
        assert failed.source == str(tmp_path / "src" / "2.txt")
        assert not result.success
        assert (result.created, result.failed) == (5, 1)
        assert "1 of 6 files failed" in result.errors[0].message
        assert len(await stored(client)) == 5
    assert sorted(str(r.source) for r in seen) == sorted(str(r.source) for r in result.results)
    assert ends == [result, result]


async def test_callbacks_once_per_file_and_once_for_the_batch(
    client: af.AsyncClient, tmp_path: pathlib.Path
) -> None:
    make_tree(tmp_path / "src", [f"{i:02}.txt" for i in range(20)])
    plain: list[str] = []
    awaited: list[str] = []
    batch: list[str] = []
    progress: list[tuple[int, int | None]] = []

    async def on_file(result: af.FileResult) -> None:
        await asyncio.sleep(0.001)
        awaited.append(str(result.source))

    def raising(result: af.FileResult) -> None:
        plain.append(str(result.source))
        raise RuntimeError("a callback's bug harms nothing")

    terminated = asyncio.Event()

    async def on_terminate(result: af.Result) -> None:
        assert len(awaited) == 20
        batch.append("terminate")
        terminated.set()

    first = await client.files.create_many(
        [tmp_path / "src"],
        "assistants",
        concurrency=4,
        on_file=on_file,
        on_response=lambda r: batch.append("response"),
        on_terminate=on_terminate,
        on_progress=lambda sent, total: progress.append((sent, total)),
    )
    assert sorted(awaited) == sorted(str(r.source) for r in first.results)
    await terminated.wait()
    assert batch == ["response", "terminate"]
    assert progress[-1] == (200, 200)
    assert [p[0] for p in progress] == sorted(p[0] for p in progress)
    second = await client.files.create_many(
        [tmp_path / "src"], "assistants", on_file=raising, skip_existing=True
    )
    assert second.skipped == 20
    assert len(plain) == 20


async def test_on_file_runs_outside_the_batchs_pacing(
    client: af.AsyncClient, tmp_path: pathlib.Path
) -> None:
    # A callback's own calls are not the file's: a 429 they meet must not slow the batch down
    # on that file's behalf (nor park a file that has ended).
    make_tree(tmp_path / "src", [f"{i:02}.txt" for i in range(6)])
    heard: list[object] = []

    def plain(result: af.FileResult) -> None:
        heard.append(rate_limit_listener.get())

    async def awaited(result: af.FileResult) -> None:
        heard.append(rate_limit_listener.get())

    for on_file in (plain, awaited):
        done = await client.files.create_many([tmp_path / "src"], "assistants", on_file=on_file)
        assert done.created == 6
    await eventually(lambda: len(heard) == 12)
    assert heard == [None] * 12


async def test_cancelling_cancels_files_in_flight_and_reports_the_rest(
    local_server: ServerThread, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    make_tree(tmp_path / "src", [f"{i}.txt" for i in range(8)])
    proxy.add_rule(Rule(Delay(0.05), method="POST", path="/v1/files", ordinal={1, 2}))
    proxy.add_rule(Rule(Delay(30), method="POST", path="/v1/files"))
    seen: list[af.FileResult] = []
    ends: list[af.Result] = []
    two_done = asyncio.Event()

    def on_file(result: af.FileResult) -> None:
        seen.append(result)
        if len(seen) == 2:
            two_done.set()

    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        task = client.files.create_many(
            [tmp_path / "src"],
            "assistants",
            concurrency=2,
            on_file=on_file,
            on_terminate=ends.append,
        )
        await two_done.wait()
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(ends) == 1
        result = ends[0]
        assert isinstance(result, af.ManyResult)
        assert result.cancelled
        assert not result.success
        outcomes = [r.outcome for r in result.results]
        assert outcomes == ["created"] * 2 + ["failed"] * 2 + ["not_started"] * 4
        assert all(r.cancelled for r in result.results[2:4])
        assert (result.created, result.failed, result.not_started) == (2, 2, 4)
        assert len(seen) == 8
        assert len({str(r.source) for r in seen}) == 8
        proxy.clear_rules()
        assert len(await stored(client)) == 2


async def test_large_files_go_through_uploads_and_resume_from_the_manifest(
    local_server: ServerThread, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    big = os.urandom(300_000)
    (src / "big.bin").write_bytes(big)
    (src / "small.txt").write_bytes(b"small")
    manifest = tmp_path / "m.jsonl"
    # The third Part is refused: the big file fails, and its Upload is kept for the rerun.
    proxy.add_rule(Rule(Respond(400), method="POST", path="/v1/uploads/", ordinal=3))
    options: dict[str, Any] = {"upload_threshold": 100_000, "part_size": 64 * 1024}
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        first = await client.files.create_many(
            [src], "assistants", manifest=manifest, max_concurrency=1, **options
        )
        assert [r.outcome for r in first.results] == ["failed", "created"]
        proxy.clear_rules()
        start = len(proxy.exchanges)
        second = await client.files.create_many([src], "assistants", manifest=manifest, **options)
        assert [r.outcome for r in second.results] == ["created", "skipped"]
        parts = [
            e for e in proxy.exchanges[start:] if e.method == "POST" and e.path.endswith("/parts")
        ]
        # Two of five Parts were sent by the first run: only the other three now.
        assert len(parts) == 3
        made = second.results[0].file
        assert made is not None
        assert await client.files.content(made.id) == big
        assert not [e for e in proxy.exchanges[start:] if e.path == "/v1/uploads"]


async def test_a_closed_client_refuses_a_batch(
    local_server: ServerThread, tmp_path: pathlib.Path
) -> None:
    client = af.AsyncClient(local_server.api_key, base_url=local_server.openai_base_url)
    await client.aclose()
    with pytest.raises(af.ClientClosedError):
        client.files.create_many([(b"x", "x.txt")], "assistants")


async def test_cancelling_a_batch_cancels_the_upload_of_a_large_file_in_flight(
    local_server: ServerThread, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(200_000))
    (src / "small.txt").write_bytes(b"small")
    # The second request on /v1/uploads (the first Part) hangs: the Upload is under way.
    proxy.add_rule(Rule(Delay(30), method="POST", path="/v1/uploads", ordinal=2))
    ends: list[af.Result] = []
    async with af.AsyncClient(local_server.api_key, base_url=proxy.url + "/v1") as client:
        task = client.files.create_many(
            [src], "user_data", concurrency=1, upload_threshold=100_000, part_size=64 * 1024,
            max_concurrency=1, on_terminate=ends.append,
        )  # fmt: skip
        await eventually(lambda: len(proxy.exchanges) >= 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    (batch,) = ends
    assert isinstance(batch, af.ManyResult)
    assert [r.outcome for r in batch.results] == ["failed", "not_started"]
    assert batch.results[0].cancelled
    assert (batch.failed, batch.not_started) == (1, 1)
    assert len(list((pathlib.Path(local_server.data_dir) / "uploads").iterdir())) == 1
    assert pending_uploads(local_server) == [], "the Upload under way was cancelled"


async def test_check_fails_the_files_with_problems_alone(
    client: af.AsyncClient, tmp_path: pathlib.Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    good = b'{"custom_id": "1", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n'
    (src / "good.jsonl").write_bytes(good)
    (src / "bad.jsonl").write_bytes(b'{"custom_id": "1"}\n')
    result = await client.files.create_many([src], "batch", check=True)
    assert [r.outcome for r in result.results] == ["failed", "created"]
    assert isinstance(result.results[0].exception, af.InvalidFileError)
    assert [f.filename for f in await stored(client, "batch")] == ["good.jsonl"]
