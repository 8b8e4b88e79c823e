"""The sync wrapper: blocking calls, Futures with callbacks on worker threads, shutdown, threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

import aikit_files as af
from aikit_files import _bridge
from aikit_files.server import ServerThread

T = TypeVar("T")


def blocking(value: T | concurrent.futures.Future[T]) -> T:
    """The value of a call made without callbacks (which blocks)."""
    assert not isinstance(value, concurrent.futures.Future)
    return value


def future_of(value: T | concurrent.futures.Future[T]) -> concurrent.futures.Future[T]:
    """The Future of a call made with callbacks."""
    assert isinstance(value, concurrent.futures.Future)
    return value


@pytest.fixture
def client(local_server: ServerThread) -> Iterator[af.Client]:
    with af.Client(api_key=local_server.api_key, base_url=local_server.openai_base_url) as client:
        yield client


@pytest.mark.parametrize(
    ("sync_api", "async_api"),
    [(af.FilesAPI, af.AsyncFilesAPI), (af.UploadsAPI, af.AsyncUploadsAPI)],
)
def test_signatures_match_the_async_twin(sync_api: type, async_api: type) -> None:
    public = [name for name in vars(async_api) if not name.startswith("_")]
    assert public
    if async_api is af.AsyncFilesAPI:
        assert {"create", "retrieve", "list", "iterate", "delete", "content", "download",
                "wait_for_processing", "import_url"} <= set(public)  # fmt: skip
    else:
        assert {"create", "add_part", "complete", "cancel"} <= set(public)
    assert set(public) == {name for name in vars(sync_api) if not name.startswith("_")}
    for name in public:
        # The same parameters: names, kinds, defaults and annotations (the return differs: the
        # value or a Future, instead of a task).
        sync_sig = inspect.signature(getattr(sync_api, name))
        async_sig = inspect.signature(getattr(async_api, name))
        assert list(sync_sig.parameters.values()) == list(async_sig.parameters.values()), name
    sync_client = inspect.signature(af.Client.__init__).parameters
    async_client = inspect.signature(af.AsyncClient.__init__).parameters
    assert list(sync_client.values()) == list(async_client.values())


def test_blocking_calls_return_values(client: af.Client, tmp_path: Path) -> None:
    uploaded = client.files.create(b"hello\n", "user_data", filename="hello.txt")
    assert isinstance(uploaded, af.OpenAIFile)
    assert uploaded.bytes == 6
    assert client.files.retrieve(uploaded.id) == uploaded
    page = client.files.list(limit=10)
    assert isinstance(page, af.FileList)
    assert [f.id for f in page.data] == [uploaded.id]
    assert client.files.content(uploaded.id) == b"hello\n"
    path = client.files.download(uploaded.id, tmp_path / "out.txt")
    assert isinstance(path, Path)
    assert path.read_bytes() == b"hello\n"
    deleted = client.files.delete(uploaded.id)
    assert isinstance(deleted, af.FileDeleted)
    assert deleted.deleted


def test_blocking_call_raises_typed_errors(client: af.Client) -> None:
    with pytest.raises(af.NotFoundError) as info:
        client.files.retrieve("file-missing")
    assert info.value.status_code == 404
    with pytest.raises(af.InvalidArgumentError):
        client.files.retrieve("")
    with pytest.raises(af.InvalidArgumentError):
        client.files.create(b"x", "")


def test_iterate_is_a_plain_iterator(client: af.Client) -> None:
    ids = {
        blocking(client.files.create(b"x", "user_data", filename=f"{i}.txt")).id for i in range(7)
    }
    seen = [f.id for f in client.files.iterate(limit=3)]
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(ids)
    with pytest.raises(af.InvalidArgumentError):
        client.files.iterate(limit=0)


def test_callbacks_return_a_future_and_run_off_the_loop_thread(client: af.Client) -> None:
    loop_thread = client._here().runtime.call(threading.get_ident)
    seen: list[tuple[str, int]] = []
    done = threading.Event()

    def on_response(result: af.Result) -> None:
        seen.append(("response", threading.get_ident()))

    def on_terminate(result: af.Result) -> None:
        seen.append(("terminate", threading.get_ident()))
        done.set()

    future = client.files.create(
        b"data", "user_data", filename="f.txt", on_response=on_response, on_terminate=on_terminate
    )
    assert isinstance(future, concurrent.futures.Future)
    uploaded = future.result(timeout=30)
    assert isinstance(uploaded, af.OpenAIFile)
    assert done.wait(30)
    assert [name for name, _ in seen] == ["response", "terminate"]
    assert all(ident != loop_thread for _, ident in seen)
    assert all(ident != threading.get_ident() for _, ident in seen)


def test_the_future_completes_once_the_callbacks_ran(client: af.Client) -> None:
    seen: list[str] = []

    def on_response(result: af.Result) -> None:
        time.sleep(0.2)
        seen.append("response")

    future = future_of(
        client.files.list(on_response=on_response, on_terminate=lambda r: seen.append("t"))
    )
    assert isinstance(future.result(timeout=30), af.FileList)
    assert seen == ["response", "t"]
    failed = future_of(client.files.retrieve("file-missing", on_error=lambda r: time.sleep(0.2)))
    with pytest.raises(af.NotFoundError):
        failed.result(timeout=30)


def test_failed_call_with_callbacks(client: af.Client) -> None:
    results: list[af.Result] = []
    errors: list[af.Result] = []
    future = future_of(
        client.files.retrieve("file-missing", on_error=errors.append, on_terminate=results.append)
    )
    with pytest.raises(af.NotFoundError):
        future.result(timeout=30)
    client.close()
    assert len(results) == 1
    assert errors == results
    assert results[0].errors[0].status == 404


def test_callback_may_call_the_client_again(client: af.Client) -> None:
    found: list[af.OpenAIFile] = []
    done = threading.Event()

    def on_response(result: af.Result) -> None:
        assert isinstance(result, af.FileResult)
        assert result.file is not None
        found.append(client.files.retrieve(result.file.id))
        done.set()

    client.files.create(b"x", "user_data", filename="x.txt", on_response=on_response)
    assert done.wait(30)
    assert len(found) == 1


def test_coroutine_and_raising_callbacks(
    client: af.Client, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def on_response(result: af.Result) -> None:
        raise RuntimeError("callback failure")

    async def on_terminate(result: af.Result) -> None:
        await asyncio.sleep(0)
        seen.append("terminate")

    client.files.list(on_response=on_response, on_terminate=on_terminate)
    client.close()
    assert seen == ["terminate"]
    assert "callback failure" in caplog.text


def test_inside_a_running_event_loop_it_works_and_warns_once(
    local_server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_bridge, "_warned_about_running_loop", False)
    # NOTE: the notebook test leaves ipykernel imported (jupyter_client finds its kernel spec),
    # which the client takes for a notebook's cell, where it does not warn.
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    lines: list[int] = []

    def here() -> int:
        frame = inspect.currentframe()
        assert frame is not None
        assert frame.f_back is not None
        return frame.f_back.f_lineno

    async def inside() -> list[warnings.WarningMessage]:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            lines.append(here() + 1)
            client = af.Client(local_server.api_key, base_url=local_server.openai_base_url)
            with client:
                created = client.files.create(b"x", "user_data", filename="x.txt")
                ids = [f.id for f in client.files.list().data]
                assert ids == [created.id]
                _bridge._warned_about_running_loop = False
                lines.append(here() + 1)
                client.files.retrieve(created.id)
                _bridge._warned_about_running_loop = False
                lines.append(here() + 1)
                assert [f.id for f in client.files.iterate()] == ids
        return warned

    warned = asyncio.run(inside())
    assert [(w.category, "AsyncClient" in str(w.message)) for w in warned] == [
        (RuntimeWarning, True)
    ] * 3
    # Each points at the user's line (issue 16), not into the package.
    assert [(w.filename, w.lineno) for w in warned] == [(__file__, line) for line in lines]


def test_a_call_from_the_loop_thread_itself_is_refused(client: af.Client) -> None:
    # Only code run by the loop itself could do this; waiting there would deadlock.
    def call_from_the_loop() -> None:
        client.files.list()

    with pytest.raises(af.SyncInEventLoopError, match="deadlock"):
        client._here().runtime.call(call_from_the_loop)


def test_safe_from_several_threads(client: af.Client) -> None:
    def work(i: int) -> str:
        uploaded = client.files.create(f"{i}".encode(), "user_data", filename=f"{i}.txt")
        assert isinstance(uploaded, af.OpenAIFile)
        assert client.files.content(uploaded.id) == f"{i}".encode()
        return uploaded.id

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(work, range(32)))
    assert len(set(ids)) == 32
    assert {f.id for f in client.files.iterate()} == set(ids)


def test_close_cancel_terminates_in_flight_calls(local_server: ServerThread) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        client = af.Client(
            api_key="sk-test", base_url=f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        )
        terminated: list[af.Result] = []
        futures = [
            future_of(client.files.retrieve(f"file-{i}", on_terminate=terminated.append))
            for i in range(3)
        ]
        client.close(cancel=True)
    finally:
        listener.close()
    assert len(terminated) == 3
    assert all(r.cancelled for r in terminated)
    assert all(f.cancelled() for f in futures)


def test_closed_client_refuses_calls(local_server: ServerThread) -> None:
    client = af.Client(api_key=local_server.api_key, base_url=local_server.openai_base_url)
    client.close()
    client.close()  # idempotent
    with pytest.raises(af.AIKitError):
        client.files.list()


def test_the_key_never_shows(local_server: ServerThread) -> None:
    secret = "sk-very-secret-value"
    with af.Client(secret, base_url=local_server.openai_base_url) as client:
        with pytest.raises(af.AuthenticationError) as info:
            client.files.list()
        shown = [repr(client), repr(client.files), str(info.value), repr(info.value.body)]
    assert all(secret not in text for text in shown)


def test_a_callback_waiting_for_a_future_of_its_client_gets_an_error(
    client: af.Client, local_server: ServerThread
) -> None:
    # The Future's callbacks run on this same callback thread, after this one: a deadlock.
    outcomes: list[object] = []
    done = threading.Event()
    other_client = af.Client(local_server.api_key, base_url=local_server.openai_base_url)
    with other_client:

        def on_response(result: af.Result) -> None:
            other = future_of(client.files.list(on_terminate=lambda r: None))
            for wait in (other.result, other.exception, lambda: own.result(timeout=5)):
                try:
                    outcomes.append(wait())
                except af.CallbackDeadlockError as exc:
                    outcomes.append(exc)
            # Another client's callbacks run on its own thread: waiting for it is fine.
            elsewhere = future_of(other_client.files.list(on_terminate=lambda r: None))
            outcomes.append(elsewhere.result(timeout=30))
            # A blocking call needs nothing of the callback thread.
            outcomes.append(client.files.list())
            done.set()

        own = future_of(client.files.list(on_response=on_response))
        assert done.wait(30)
        assert isinstance(own.result(timeout=30), af.FileList)
    refused = outcomes[0]
    assert all(isinstance(o, af.CallbackDeadlockError) for o in outcomes[:3]), outcomes
    assert "same thread" in str(refused)
    assert [type(o) for o in outcomes[3:]] == [af.FileList, af.FileList]


def test_close_from_a_callback_gets_an_error(client: af.Client) -> None:
    errors: list[BaseException] = []

    def on_terminate(result: af.Result) -> None:
        try:
            client.close()
        except af.CallbackDeadlockError as exc:
            errors.append(exc)

    future_of(client.files.list(on_terminate=on_terminate)).result(timeout=30)
    (error,) = errors
    assert isinstance(error, af.AIKitError)
    assert "close()" in str(error)


def test_callbacks_are_found_wherever_they_are_given(client: af.Client) -> None:
    # The async side's merge decides, once: a keyword, a parameters object or a mapping.
    seen: list[str] = []
    given = [
        client.files.list(on_terminate=lambda r: seen.append("keyword")),
        client.files.list(af.FileListParameters(on_terminate=lambda r: seen.append("object"))),
        client.files.list({"on_terminate": lambda r: seen.append("mapping")}),
        client.files.list(af.FileListParameters(limit=2), on_error=lambda r: None),
    ]
    for future in given:
        assert isinstance(future_of(future).result(timeout=30), af.FileList)
    assert sorted(seen) == ["keyword", "mapping", "object"]
    assert isinstance(blocking(client.files.list(af.FileListParameters(limit=2))), af.FileList)


def test_on_progress_runs_off_the_loop_thread(client: af.Client, tmp_path: Path) -> None:
    loop_thread = client._here().runtime.call(threading.get_ident)
    reports: list[tuple[int, int | None, int]] = []

    def on_progress(done: int, total: int | None) -> None:
        reports.append((done, total, threading.get_ident()))

    source = tmp_path / "data.bin"
    source.write_bytes(b"x" * 300_000)
    made = client.files.create(source, "user_data", on_progress=on_progress)
    client.files.download(made.id, tmp_path / "back.bin", on_progress=on_progress)
    client.close()  # waits for the reports queued on the callback thread
    assert reports
    assert reports[-1][:2] == (300_000, 300_000)
    assert {ident for *_, ident in reports}.isdisjoint({loop_thread, threading.get_ident()})


def test_close_on_the_loop_thread_is_refused(client: af.Client) -> None:
    with pytest.raises(af.SyncInEventLoopError):
        client._here().runtime.call(client.close)
    assert isinstance(client.files.list(), af.FileList)  # still open


def test_a_large_upload_with_callbacks_delivers_once(client: af.Client) -> None:
    # The call's parameters are seen once, where it starts: the requests it makes inside (the
    # Upload, its Parts, complete) keep the callbacks of the call, not a second wrapping.
    loop_thread = client._here().runtime.call(threading.get_ident)
    results: list[af.Result] = []
    progress: list[tuple[int, int | None, int]] = []
    future = future_of(
        client.files.create(
            b"y" * 50_000,
            "user_data",
            filename="big.bin",
            upload_threshold=10_000,
            part_size=16_384,
            on_progress=lambda done, total: progress.append((done, total, threading.get_ident())),
            on_terminate=results.append,
        )
    )
    made = future.result(timeout=60)
    assert made.bytes == 50_000
    (result,) = results
    assert isinstance(result, af.FileResult)
    assert result.file == made
    client.close()
    assert progress[-1][:2] == (50_000, 50_000)
    assert loop_thread not in {ident for *_, ident in progress}
