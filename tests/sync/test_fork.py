"""A sync client inherited by a child made with ``fork`` (gunicorn ``--preload``, Celery prefork,
``multiprocessing``): the child works on threads and connections of its own, leaves its
parent's sockets alone, and exits without waiting for a thread only the parent has."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from aikit_files.server import ServerThread

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or not os.path.isdir("/proc/self/fd"),
    reason="needs fork and /proc (Linux)",
)

#: A parent with a module-level client, used once (so it holds a pooled connection), forks
#: ``multiprocessing`` workers that ignore or use the client; each must exit within a hard
#: timeout. The parent's sockets are watched through /proc: the children neither close nor
#: use them, and the parent still works over the same connection afterwards.
SCRIPT = textwrap.dedent(
    """
    import multiprocessing, os, sys, threading, warnings
    import aikit_files as af

    # NOTE: 3.12+ warns that forking a process with threads may deadlock a child; making the
    # child safe despite that is what is tested here.
    warnings.simplefilter("ignore", DeprecationWarning)
    client = af.Client(api_key=sys.argv[2], base_url=sys.argv[1])

    def sockets():
        found = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:"):
                found.add(target)
        return found

    def ignore(inherited):
        assert inherited <= sockets()

    def use(inherited):
        threads = {t.ident for t in threading.enumerate()}
        made = client.files.create(b"child", "user_data", filename=f"{os.getpid()}.txt")
        assert client.files.retrieve(made.id).filename == made.filename
        done = []
        future = client.files.list(on_terminate=done.append)
        assert made.id in [f.id for f in future.result(timeout=30).data]
        assert len(done) == 1
        # The child's own loop and callback threads; the parent's sockets are still open here.
        assert {t.ident for t in threading.enumerate()} - threads
        assert inherited <= sockets()

    def use_then_close(inherited):
        use(inherited)
        client.close()

    if __name__ == "__main__":
        multiprocessing.set_start_method("fork")
        before = sockets()
        first = client.files.create(b"parent", "user_data", filename="parent.txt")
        inherited = sockets() - before  # the parent's pooled connection
        assert inherited
        for target in (ignore, use, use_then_close, ignore):
            child = multiprocessing.Process(target=target, args=(inherited,))
            child.start()
            child.join(timeout=60)
            if child.exitcode is None:
                child.kill()
                print(target.__name__, "hung")
                sys.exit(1)
            print(target.__name__, child.exitcode)
        # Still the same connection: no child shut it down or wrote on it.
        assert client.files.retrieve(first.id).filename == "parent.txt"
        assert inherited <= sockets()
        print("files", len(list(client.files.iterate())))
    """
)


def test_forked_children_use_or_ignore_a_module_level_client(local_server: ServerThread) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, local_server.openai_base_url, str(local_server.api_key)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split("\n")[:-1] == [
        "ignore 0",
        "use 0",
        "use_then_close 0",
        "ignore 0",
        "files 3",
    ], out.stderr
    assert "Traceback" not in out.stderr, out.stderr
