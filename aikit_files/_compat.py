"""The client's one wall around private attributes of aiohttp, asyncio and threading.

Every private attribute the client touches is used from here and nowhere else, each with a
fallback to public behaviour (slower is acceptable, wrong is not) when the attribute is missing
or changed; a test runs each fallback by simulating the attribute's absence.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import threading
from collections.abc import Callable
from typing import Any

# ---------------------------------------------------------------------------------------------
# aiohttp (client side): the session, its connections and the request body writer.
# ---------------------------------------------------------------------------------------------


# (the aiohttp wall goes here)


# ---------------------------------------------------------------------------------------------
# asyncio and threading: the running loop without a system call, and exit hooks that run
# before the interpreter's threads are joined.
# ---------------------------------------------------------------------------------------------


def exception_unretrieved(task: asyncio.Future[Any]) -> bool:
    """Whether ``task`` ended with an exception that nobody retrieved (by awaiting it, or with
    ``result()`` or ``exception()``): asyncio's ``_log_traceback`` flag, which makes it log
    "Task exception was never retrieved" when the task is collected.

    Fallback, should the flag go: False, and asyncio logs its own message, as it always did.
    """
    return getattr(task, "_log_traceback", False) is True


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None.

    asyncio's own ``_get_running_loop`` answers without raising; without it, the public
    ``get_running_loop`` is asked and its ``RuntimeError`` read as "none".
    """
    get = getattr(asyncio, "_get_running_loop", None)
    if callable(get):
        loop = get()
        if loop is None or isinstance(loop, asyncio.AbstractEventLoop):
            return loop
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def register_exit_hook(hook: Callable[[], None]) -> None:
    """Runs ``hook`` once at interpreter exit, as early as Python allows.

    ``threading._register_atexit`` runs it when the main thread ends, before the interpreter
    joins its threads, and before ``concurrent.futures`` stops its pools (its own hook is in the
    same list, which runs last-registered first: that module is imported here first, so ours
    comes after it). Without it, ``atexit`` runs the hook later, once the interpreter's
    non-daemon threads have ended: the sync client's loop and callback threads are daemons and
    still run then, but ``concurrent.futures`` has stopped its pools, so a call in flight that
    still needs a worker thread of the loop (a file read, a name lookup) fails instead, and its
    callbacks say so.
    """
    importlib.import_module("concurrent.futures.thread")
    register = getattr(threading, "_register_atexit", None)
    if callable(register):
        register(hook)
    else:
        atexit.register(hook)
