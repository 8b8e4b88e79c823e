"""What the reliability tests share: a count of what a call may leave behind (tasks, open files,
sockets, temporary files). The ``proxy`` in front of the local server is the suite's."""

from __future__ import annotations

import asyncio
import pathlib

import attrs
import psutil

from aikit_files.testing import FaultProxy


@attrs.frozen
class Held:
    """What this process holds that a finished call could have leaked."""

    tasks: int
    files: frozenset[str]
    sockets: int
    temporary: frozenset[str]

    @classmethod
    def now(cls, proxy: FaultProxy, *folders: pathlib.Path) -> Held:
        """What is held now: the loop's tasks, files open under ``folders`` (but for a server's
        ``data`` folder: the server runs in this process too), established connections to the
        proxy, and ``.part`` files under ``folders``."""
        process = psutil.Process()
        mine = [str(folder) for folder in folders]
        servers = [str(folder / "data") for folder in folders]
        port = int(proxy.url.rsplit(":", 1)[1])
        return cls(
            tasks=len(asyncio.all_tasks()) if _loop_running() else 0,
            files=frozenset(
                f.path
                for f in process.open_files()
                if f.path.startswith(tuple(mine)) and not f.path.startswith(tuple(servers))
            ),
            sockets=sum(
                1
                for c in process.net_connections("tcp")
                if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
            ),
            temporary=frozenset(
                str(path)
                for folder in folders
                for path in folder.rglob("*")
                if path.name.endswith(".part")
            ),
        )


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
