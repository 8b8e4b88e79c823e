"""The fallbacks of ``_compat``'s asyncio and threading section, run by simulating the absence of
the private attribute each one stands in for."""

from __future__ import annotations

import asyncio

import pytest

from aikit_files import _compat
from aikit_files.server import ServerThread

from .test_lifecycle import ENDINGS, SCRIPT, check_every_call_delivered


@pytest.mark.parametrize("private", [True, False])
def test_running_loop(monkeypatch: pytest.MonkeyPatch, private: bool) -> None:
    if not private:
        monkeypatch.delattr(asyncio, "_get_running_loop")
    assert _compat.running_loop() is None

    async def inside() -> asyncio.AbstractEventLoop | None:
        return _compat.running_loop()

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(inside()) is loop
    finally:
        loop.close()


#: Without ``threading._register_atexit``, a client forgotten at exit still delivers every
#: callback: its exit hook runs at ``atexit``, on daemon threads that still run then.
WITHOUT_REGISTER_ATEXIT = (
    "import concurrent.futures.thread, threading\ndel threading._register_atexit\n" + SCRIPT
)


@pytest.mark.parametrize("ending", ["forgotten", "dropped"])
def test_exit_hook_without_register_atexit(local_server: ServerThread, ending: str) -> None:
    script = WITHOUT_REGISTER_ATEXIT.replace("ENDING", ENDINGS[ending])
    check_every_call_delivered(local_server, script)
