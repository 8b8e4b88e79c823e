"""The 4D asynchronous-call pattern on AsyncFilesAPI: on_response / on_error, then on_terminate.

Every test talks to the local Files API server (or, for faults it cannot produce, a real socket
that refuses or never answers) over loopback. What tests/client checks more strictly is not
repeated here: calls after aclose (test_client), tasks kept alive (test_client), bad arguments
(test_arguments), retried calls with callbacks (test_transport).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import aikit_files as af
from aikit_files.server import ServerThread

pytestmark = pytest.mark.anyio


class Recorder:
    """Collects callback invocations in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, af.Result]] = []
        self.done = asyncio.Event()

    def params(self, **extra: Any) -> dict[str, Any]:
        def on_response(result: af.Result) -> None:
            self.calls.append(("response", result))

        def on_error(result: af.Result) -> None:
            self.calls.append(("error", result))

        def on_terminate(result: af.Result) -> None:
            self.calls.append(("terminate", result))
            self.done.set()

        return {
            "on_response": on_response,
            "on_error": on_error,
            "on_terminate": on_terminate,
            **extra,
        }

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    async def wait(self) -> af.Result:
        await asyncio.wait_for(self.done.wait(), 30)
        return self.calls[-1][1]


def client_for(server: ServerThread, **kwargs: Any) -> af.AsyncClient:
    return af.AsyncClient(api_key=server.api_key, base_url=server.openai_base_url, **kwargs)


async def test_success_goes_to_on_response_then_on_terminate(local_server: ServerThread) -> None:
    rec = Recorder()
    async with client_for(local_server) as client:
        task = client.files.create(b'{"a": 1}\n', "user_data", filename="a.jsonl", **rec.params())
        uploaded = await task
        result = await rec.wait()
    assert rec.names == ["response", "terminate"]
    assert rec.calls[0][1] is result
    assert isinstance(result, af.FileResult)
    assert result.success
    assert result.terminated
    assert not result.cancelled
    assert result.errors == []
    assert result.file == uploaded
    assert result.file is not None
    assert result.file.filename == "a.jsonl"
    assert result.headers
    assert result.request_id is not None
    assert result.request_id.startswith("req_")


async def test_http_error_goes_to_on_error_then_on_terminate(local_server: ServerThread) -> None:
    rec = Recorder()
    async with client_for(local_server) as client:
        task = client.files.retrieve("file-doesnotexist", **rec.params())
        with pytest.raises(af.NotFoundError):
            await task
        result = await rec.wait()
    assert rec.names == ["error", "terminate"]
    assert isinstance(result, af.FileResult)
    assert not result.success
    assert result.file is None
    [error] = result.errors
    assert error.status == 404
    assert error.message
    assert isinstance(result.exception, af.NotFoundError)
    assert result.request_id is not None
    assert result.request_id == result.exception.request_id


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_network_error_goes_to_on_error_with_no_status() -> None:
    rec = Recorder()
    base_url = f"http://127.0.0.1:{_free_port()}/v1"
    async with af.AsyncClient(api_key="sk-test", base_url=base_url, max_retries=0) as client:
        client.files.list(**rec.params())
        result = await rec.wait()
    assert rec.names == ["error", "terminate"]
    [error] = result.errors
    assert error.status is None
    assert isinstance(result.exception, af.APIConnectionError)
    assert not isinstance(result.exception, af.APITimeoutError)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A real TCP server that accepts requests and never answers them."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    listener.close()


async def test_timeout_goes_to_on_error(silent_server: str) -> None:
    rec = Recorder()
    timeout = af.Timeout(connect=5, read=0.3, write=5)
    async with af.AsyncClient(
        api_key="sk-test", base_url=silent_server, timeout=timeout, max_retries=0
    ) as client:
        task = client.files.retrieve("file-abc", **rec.params())
        with pytest.raises(af.APITimeoutError):
            await task
        result = await rec.wait()
    assert rec.names == ["error", "terminate"]
    assert result.errors[0].status is None
    assert isinstance(result.exception, af.APITimeoutError)


async def test_cancellation_mid_upload_still_terminates(local_server: ServerThread) -> None:
    rec = Recorder()
    first_chunk_read = asyncio.Event()

    async def slow_source() -> AsyncIterator[bytes]:
        yield b"x" * 65536
        first_chunk_read.set()
        await asyncio.sleep(3600)
        yield b"never sent"

    async with client_for(local_server) as client:
        task = client.files.create(slow_source(), "user_data", filename="slow.bin", **rec.params())
        await asyncio.wait_for(first_chunk_read.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        result = await rec.wait()
        # The server saw a broken upload: nothing of it is listed.
        assert (await client.files.list()).data == []
    assert rec.names == ["error", "terminate"]
    assert result.cancelled
    assert result.terminated
    assert not result.success
    assert result.errors[0].type == "cancelled"


async def test_plain_callbacks_ran_when_an_await_of_the_task_resumes(
    local_server: ServerThread, silent_server: str
) -> None:
    rec = Recorder()
    async with client_for(local_server) as client:
        await client.files.list(**rec.params())
        assert rec.names == ["response", "terminate"]
        with pytest.raises(af.NotFoundError):
            await client.files.retrieve("file-doesnotexist", **rec.params())
        assert rec.names == ["response", "terminate", "error", "terminate"]
    async with af.AsyncClient(api_key="sk-test", base_url=silent_server) as client:
        task = client.files.retrieve("file-abc", **rec.params())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert rec.names[4:] == ["error", "terminate"]
        assert rec.calls[-1][1].cancelled


async def test_a_call_cancelled_before_it_started_terminates_and_warns_nothing(
    local_server: ServerThread,
) -> None:
    rec = Recorder()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with client_for(local_server) as client:
            task = client.files.list(**rec.params())
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        del task
        gc.collect()
    assert rec.names == ["error", "terminate"]
    assert rec.calls[-1][1].cancelled
    assert [str(w.message) for w in caught] == []


async def test_a_coroutine_callback_keeps_the_order_of_those_after_it(
    local_server: ServerThread,
) -> None:
    seen: list[str] = []

    async def on_response(result: af.Result) -> None:
        await asyncio.sleep(0.05)
        seen.append("response")

    async with client_for(local_server) as client:
        await client.files.list(on_response=on_response, on_terminate=lambda r: seen.append("t"))
        assert seen == []  # the coroutine runs in a task of its own, the rest after it
    assert seen == ["response", "t"]


async def test_raising_callback_is_logged_and_harms_nothing(
    local_server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def on_response(result: af.Result) -> None:
        seen.append("response")
        raise RuntimeError("boom in on_response")

    async def on_terminate(result: af.Result) -> None:
        await asyncio.sleep(0)
        seen.append("terminate")

    caplog.set_level(logging.ERROR, logger="aikit_files")
    async with client_for(local_server) as client:
        await client.files.list(on_response=on_response, on_terminate=on_terminate)
        await client.aclose()  # waits for the callbacks
        assert seen == ["response", "terminate"]
    assert "boom in on_response" in caplog.text
    assert any(r.name == "aikit_files" for r in caplog.records)


async def test_coroutine_callbacks_are_awaited(local_server: ServerThread) -> None:
    seen: list[bool] = []

    async def on_terminate(result: af.Result) -> None:
        await asyncio.sleep(0.01)
        seen.append(result.success)

    async with client_for(local_server) as client:
        client.files.list(on_terminate=on_terminate)
    assert seen == [True]


async def test_aclose_waits_for_calls_in_flight(local_server: ServerThread) -> None:
    terminated: list[af.Result] = []
    client = client_for(local_server)
    for i in range(20):
        client.files.create(
            b"x" * 1000, "user_data", filename=f"{i}.txt", on_terminate=terminated.append
        )
    await client.aclose()
    assert len(terminated) == 20
    assert all(r.success for r in terminated)


async def test_aclose_cancel_terminates_calls_as_cancelled(silent_server: str) -> None:
    terminated: list[af.Result] = []
    client = af.AsyncClient(api_key="sk-test", base_url=silent_server, max_retries=0)
    tasks = [client.files.retrieve(f"file-{i}", on_terminate=terminated.append) for i in range(5)]
    await asyncio.sleep(0.1)
    await client.aclose(cancel=True)
    assert len(terminated) == 5
    assert all(r.cancelled and r.terminated and not r.success for r in terminated)
    assert all(t.cancelled() for t in tasks)


async def test_a_callback_may_close_the_client(local_server: ServerThread) -> None:
    closed = asyncio.Event()
    client = client_for(local_server)

    async def on_terminate(result: af.Result) -> None:
        await client.aclose()
        closed.set()

    client.files.list(on_terminate=on_terminate)
    await asyncio.wait_for(closed.wait(), 10)
    with pytest.raises(af.ClientClosedError):
        client.files.list()
    await client.aclose()


async def test_a_delete_that_never_connected_is_not_looked_for() -> None:
    # Nothing reached a server: the call fails as a plain connection error, not as one that
    # "may have" been carried out (the lookup is for requests sent whole).
    base_url = f"http://127.0.0.1:{_free_port()}/v1"
    rec = Recorder()
    async with af.AsyncClient(api_key="sk-test", base_url=base_url, max_retries=0) as client:
        with pytest.raises(af.APIConnectionError) as caught:
            await client.files.delete("file-abc", **rec.params())
    assert "may have" not in str(caught.value)
    assert rec.names == ["error", "terminate"]
