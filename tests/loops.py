"""The event loops that upload tests run on, and how to tell which way a file part went.

asyncio's own loop has ``loop.sendfile``, so a file on disk goes by the kernel's sendfile over
plain HTTP; uvloop, which many services run, has none, so its uploads read the file ahead in
worker threads, as every upload over TLS does. Each upload logs (at DEBUG) the way it chose.
"""

from __future__ import annotations

import pytest

ASYNCIO = "asyncio"
UVLOOP = ("asyncio", {"use_uvloop": True})

#: The ``anyio_backend`` values of both loops.
LOOPS = [pytest.param(ASYNCIO, id="asyncio"), pytest.param(UVLOOP, id="uvloop")]

#: Runs an async test once on each loop.
on_both_loops = pytest.mark.parametrize("anyio_backend", LOOPS)

SENDFILE = "sendfile"
READ_AHEAD = "read-ahead"

_PREFIX = "the file part goes by "


def ways(caplog: pytest.LogCaptureFixture) -> list[str]:
    """How each file part went, in order: ``SENDFILE`` or ``READ_AHEAD``.

    The test must capture ``aikit_files`` at DEBUG
    (``caplog.set_level(logging.DEBUG, "aikit_files")``).
    """
    messages = [r.getMessage() for r in caplog.records if r.name == "aikit_files"]
    return [
        SENDFILE if m.startswith(_PREFIX + SENDFILE) else READ_AHEAD
        for m in messages
        if m.startswith(_PREFIX)
    ]


def expected_way(anyio_backend: object, tls: bool = False) -> str:
    """The way a file on disk goes on this loop and connection."""
    return SENDFILE if anyio_backend == ASYNCIO and not tls else READ_AHEAD
