"""The task of a call starts eagerly on Python 3.12+ (its first step runs before the method
returns), never through a change to the user's loop: a loop with a task factory of its own
gets its tasks from it. A call that ends in that first step still runs its callbacks before
whoever awaits it resumes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine, Generator
from typing import Any

import aiohttp
import pytest

import aikit_files as af

#: Nothing listens there: a call fails without a server.
NOWHERE = "http://127.0.0.1:9/v1"


def _session_made(client: af.AsyncClient) -> bool:
    # NOTE: the session is made in a call's first step, inside the running loop.
    return client._transport._session is not None


async def _started_at_once() -> bool:
    """Whether a ``retrieve``'s first step ran before the method returned (its call then fails:
    nothing listens)."""
    async with af.AsyncClient("k", base_url=NOWHERE, max_retries=0) as client:
        task = client.files.retrieve("file-abc")
        started = _session_made(client)
        with pytest.raises(af.APIConnectionError):
            await task
    return started


def test_the_first_step_runs_before_the_method_returns_on_3_12() -> None:
    assert asyncio.run(_started_at_once()) is (sys.version_info >= (3, 12))


def test_a_loop_with_a_task_factory_of_its_own_makes_the_calls_tasks() -> None:
    made: list[str] = []

    def factory(
        loop: asyncio.AbstractEventLoop,
        coro: Generator[Any, None, Any] | Coroutine[Any, Any, Any],
        **options: Any,
    ) -> asyncio.Task[Any]:
        made.append(getattr(coro, "__qualname__", ""))
        return asyncio.Task(coro, loop=loop, **options)

    async def main() -> bool:
        asyncio.get_running_loop().set_task_factory(factory)
        return await _started_at_once()

    assert asyncio.run(main()) is False
    assert "_Call.run" in made


def test_a_call_that_ends_in_its_first_step_calls_back_before_its_awaiter_resumes() -> None:
    # A borrowed session that is closed refuses the request in the call's first step: with an
    # eager start the task is done before the method returns.
    ended: list[af.Result] = []

    async def main() -> None:
        session = aiohttp.ClientSession()
        await session.close()
        async with af.AsyncClient("k", base_url=NOWHERE, session=session) as client:
            task = client.files.retrieve("file-abc", on_terminate=ended.append)
            with pytest.raises(RuntimeError, match="closed"):
                await task
            assert len(ended) == 1, "the awaiter resumed before the callbacks ran"

    asyncio.run(main())
