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
from types import SimpleNamespace
from typing import Any, Final

import aiohttp
from aiohttp.abc import AbstractStreamWriter

# ---------------------------------------------------------------------------------------------
# aiohttp (client side): the session, its connections and the request body writer.
#
# The request body (``_io.body.FormPayload``) needs nothing private: it overrides
# ``Payload.size`` and ``Payload.autoclose``, the public properties aiohttp reads.
# ---------------------------------------------------------------------------------------------

#: Whether ``aiohttp.ClientSession`` has ``_retry_connection``, the private switch of its silent
#: second attempt. Read from its list of attributes, so that no session is made to find out
#: (nor a custom attribute set on one, which aiohttp warns about). A test sets it False to run
#: the fallback.
RETRY_SWITCH: bool = "_retry_connection" in getattr(aiohttp.ClientSession, "ATTRS", frozenset())

_MISSING: Final = object()


def client_session(**options: Any) -> aiohttp.ClientSession:
    """An ``aiohttp.ClientSession`` that never sends a request a second time on its own.

    aiohttp sends an idempotent request (GET, DELETE) again, silently, when its connection
    breaks; our retry loop decides, and counts, every attempt (``max_retries=0`` means one),
    and after a DELETE sent whole it looks for the deletion rather than send it again. With
    the private switch, aiohttp is told not to. Without it (a release that dropped or renamed
    it), a trace refuses the second connection of one request before anything is sent on it:
    a little slower (a trace per request, and no ``sendfile``: see ``traces_each_chunk``),
    never a request sent twice.

    Args:
        **options: what ``aiohttp.ClientSession`` takes (not ``trace_configs``).
    """
    if RETRY_SWITCH:
        session = aiohttp.ClientSession(**options)
        session._retry_connection = False
        return session
    return aiohttp.ClientSession(trace_configs=[_one_connection_a_request()], **options)


def _one_connection_a_request() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    # NOTE: each connection a request takes passes one of these (a queued one too, once it
    # is let through): the second is aiohttp's own retry.
    trace.on_connection_create_start.append(_refuse_a_second_connection)
    trace.on_connection_reuseconn.append(_refuse_a_second_connection)
    return trace


async def _refuse_a_second_connection(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: object
) -> None:
    # NOTE: aiohttp makes ``context`` once per request, and keeps it across its retry. An error
    # raised here releases the connection; aiohttp, having retried once, raises it.
    if getattr(context, "connected", False):
        raise aiohttp.ServerDisconnectedError("the connection broke (no second attempt)")
    context.connected = True


def traces_each_chunk(writer: AbstractStreamWriter) -> bool:
    """Whether something is told of each chunk of the request body that ``writer`` writes: a
    trace of the session (``on_request_chunk_sent``) or an upload tracker. Bytes sent by the
    kernel (``sendfile``) would pass them by.

    aiohttp keeps the trace's hook in the writer's private ``_on_chunk_sent``; when it is
    missing, the answer is yes (the body then goes by read-ahead: slower, never a trace
    missed).
    """
    if writer.on_body_write is not None:
        return True
    return getattr(writer, "_on_chunk_sent", _MISSING) is not None


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
