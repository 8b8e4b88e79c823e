"""A fire-and-forget call whose failure nobody receives (no callback, its task never awaited)
is logged as one line on logger ``aikit_files``, naming the call and its error, instead of
asyncio's "Task exception was never retrieved" traceback; a failure that someone received (the
task awaited, before or after it ended, or a callback given) is not logged at all."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from loops import on_both_loops

import aikit_files as af
from aikit_files._compat import exception_unretrieved
from aikit_files.server import ServerThread

pytestmark = pytest.mark.anyio

MISSING = "file-missing"


@pytest.fixture
async def client(local_server: ServerThread) -> AsyncIterator[af.AsyncClient]:
    async with af.AsyncClient(local_server.api_key, base_url=local_server.openai_base_url) as c:
        yield c


@pytest.fixture
async def asyncio_reports() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the loop's exception handler while the test runs (restored after)."""
    loop = asyncio.get_running_loop()
    reports: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reports.append(context))
    yield reports
    loop.set_exception_handler(previous)


async def ended(task: asyncio.Task[Any]) -> None:
    """Waits for ``task`` to end without retrieving its outcome, then lets it be collected."""
    await asyncio.wait({task})
    del task
    gc.collect()


def unreceived(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "nobody received" in r.getMessage()]


@on_both_loops
async def test_an_error_nobody_receives_is_one_line_of_ours(
    client: af.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    asyncio_reports: list[dict[str, Any]],
) -> None:
    caplog.set_level(logging.INFO, logger="aikit_files")
    await ended(client.files.retrieve(MISSING))
    (record,) = unreceived(caplog)
    assert record.name == "aikit_files"
    assert record.levelno == logging.ERROR
    message = record.getMessage()
    assert message.startswith("aikit_files.retrieve failed")
    assert "NotFoundError: " in message
    assert MISSING in message
    assert "\n" not in message
    assert record.exc_info is None
    assert asyncio_reports == []


@pytest.mark.parametrize("how", ["awaited while running", "awaited once ended", "exception()"])
async def test_an_error_someone_received_is_not_logged(
    client: af.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    asyncio_reports: list[dict[str, Any]],
    how: str,
) -> None:
    caplog.set_level(logging.INFO, logger="aikit_files")
    task = client.files.retrieve(MISSING)
    if how != "awaited while running":
        await asyncio.wait({task})
    if how == "exception()":
        assert isinstance(task.exception(), af.NotFoundError)
    else:
        with pytest.raises(af.NotFoundError):
            await task
    await ended(task)
    assert unreceived(caplog) == []
    assert asyncio_reports == []


async def test_an_error_given_to_a_callback_is_not_logged(
    client: af.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    asyncio_reports: list[dict[str, Any]],
) -> None:
    caplog.set_level(logging.INFO, logger="aikit_files")
    errors: list[af.Result] = []
    await ended(client.files.retrieve(MISSING, on_error=errors.append))
    assert len(errors) == 1
    assert unreceived(caplog) == []
    assert asyncio_reports == []


async def test_a_success_and_a_cancellation_are_not_logged(
    client: af.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    asyncio_reports: list[dict[str, Any]],
) -> None:
    caplog.set_level(logging.INFO, logger="aikit_files")
    await ended(client.files.list())
    cancelled = client.files.retrieve(MISSING)
    cancelled.cancel()
    await ended(cancelled)
    assert unreceived(caplog) == []
    assert asyncio_reports == []


async def test_a_task_factory_of_the_user_is_honoured(
    client: af.AsyncClient, asyncio_reports: list[dict[str, Any]]
) -> None:
    loop = asyncio.get_running_loop()
    made: list[asyncio.Task[Any]] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        made.append(task)
        return task

    loop.set_task_factory(factory)
    try:
        task = client.files.list()
    finally:
        loop.set_task_factory(None)
    assert made == [task]
    await task


def test_without_asyncio_s_flag_nothing_is_claimed() -> None:
    # The fallback of the wall, should asyncio drop its flag: asyncio then logs, as it did.
    class Bare:
        pass

    assert exception_unretrieved(Bare()) is False  # type: ignore[arg-type]
