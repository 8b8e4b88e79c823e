"""wait_for_processing's polls: a file retrieved, with a growing pause, until it is processed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from ._exceptions import APITimeoutError, FileProcessingError
from ._models import OpenAIFile
from ._protocol.responses import Reply

#: The longest pause between two polls of ``wait_for_processing``, however long it has waited.
MAX_POLL_INTERVAL = 30.0


async def until_processed(
    retrieve: Callable[[], Coroutine[Any, Any, Reply[OpenAIFile]]],
    file_id: str,
    poll_interval: float,
    max_wait: float,
) -> Reply[OpenAIFile]:
    """Polls with ``retrieve`` until file ``file_id`` is ``processed``; the pause between polls
    starts at ``poll_interval`` and doubles up to ``MAX_POLL_INTERVAL`` (or ``poll_interval``).

    Raises:
        FileProcessingError: the file ended in ``error``.
        APITimeoutError: the file was not processed after ``max_wait`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    pause = poll_interval
    while True:
        reply = await retrieve()
        file = reply.value
        if file.status == "processed":
            return reply
        if file.status == "error":
            raise FileProcessingError(
                f"the server failed to process file {file_id}: "
                f"{file.status_details or 'no details given'}",
                file=file,
                status_details=file.status_details,
            )
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise APITimeoutError(f"file {file_id} was still {file.status!r} after {max_wait} s")
        await asyncio.sleep(min(pause, remaining))
        pause = min(pause * 2, max(poll_interval, MAX_POLL_INTERVAL))
