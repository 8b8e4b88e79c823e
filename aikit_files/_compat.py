"""The client's one wall around private attributes of aiohttp, asyncio and threading.

Every private attribute the client touches is used from here and nowhere else, each with a
fallback to public behaviour (slower is acceptable, wrong is not) when the attribute is missing
or changed; a test runs each fallback by simulating the attribute's absence.
"""

from __future__ import annotations

import asyncio
from typing import Any

# ---------------------------------------------------------------------------------------------
# aiohttp (client side): the session, its connections and the request body writer.
# ---------------------------------------------------------------------------------------------


# (the aiohttp wall goes here)


# ---------------------------------------------------------------------------------------------
# asyncio and threading: the running loop without a system call, and exit hooks that run
# before the interpreter's threads are joined.
# ---------------------------------------------------------------------------------------------


# (the asyncio and threading wall goes here)


def exception_unretrieved(task: asyncio.Future[Any]) -> bool:
    """Whether ``task`` ended with an exception that nobody retrieved (by awaiting it, or with
    ``result()`` or ``exception()``): asyncio's ``_log_traceback`` flag, which makes it log
    "Task exception was never retrieved" when the task is collected.

    Fallback, should the flag go: False, and asyncio logs its own message, as it always did.
    """
    return getattr(task, "_log_traceback", False) is True
