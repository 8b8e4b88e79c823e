"""The sync client's engine: an event loop in a daemon thread, a callback thread, worker threads
that exist from the start, and a bridge that runs coroutines on the loop from any other thread.

Why not anyio's blocking portal (DESIGN section 5 names it "wherever it holds every behaviour of
this section"): it was tried again (issue 13) and fails the lifetime test of a client dropped
without ``close()`` (tests/sync/test_lifecycle.py::test_dropped_idle_clients_leave_no_thread, and
"dropped" in test_every_started_call_delivers_exactly_once). A dropped client is finalized by
the garbage collector, on whichever thread it runs, the portal's own loop thread included (the
last reference often goes when a call's task ends there). Stopping a portal is a coroutine run
through the portal (``portal.call(portal.stop)``, what ``start_blocking_portal``'s exit does),
which refuses to run from the loop's thread ("This method cannot be called from the event loop
thread") and otherwise waits; ``start_blocking_portal``'s context manager must also be exited
by the thread that holds it, and its worker thread is a ``concurrent.futures`` pool thread,
which ``concurrent.futures`` joins at exit before a forgotten client's calls could end. A loop
of our own is stopped from any thread with ``call_soon_threadsafe(loop.stop)`` without
waiting, and runs in a daemon thread that outlives the pools' shutdown.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import os
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

from ._exceptions import ClientClosedError, SyncInEventLoopError

T = TypeVar("T")

#: Worker threads for the loop's blocking work (file reads and writes, name lookups).
IO_THREADS: Final = min(8, (os.cpu_count() or 1) + 4)
#: The longest a fork waits for a busy loop to park (``LoopThread.park``), in seconds.
PARK_WAIT: Final = 2.0


def _started_executor(workers: int, name: str) -> concurrent.futures.ThreadPoolExecutor:
    """A pool whose threads all exist now.

    NOTE: since Python 3.12 no thread can start once the interpreter is exiting, yet a client a
    script forgot to close still finishes its calls then; its pools must never need a new thread.
    """
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    ready = threading.Barrier(workers + 1)
    for _ in range(workers):
        # Each job holds its thread until all are started, so each submit starts a new one.
        executor.submit(ready.wait)
    ready.wait()
    return executor


class CallbackThread:
    """One daemon thread that runs the user's callbacks and progress reports, in the order they
    come.

    Not a ``concurrent.futures`` pool: those stop at interpreter exit before a forgotten
    client's calls end (see ``_compat.register_exit_hook``), and this thread must deliver them.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], None], concurrent.futures.Future[None]]]
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="aikit-files-callbacks", daemon=True)
        self._thread.start()

    @property
    def ident(self) -> int | None:
        """The thread's identifier."""
        return self._thread.ident

    def _run(self) -> None:
        while True:
            job, done = self._jobs.get()
            if done.cancelled():  # the stop marker
                return
            try:
                job()
            except BaseException as exc:
                done.set_exception(exc)
            else:
                done.set_result(None)

    def submit(self, job: Callable[[], None]) -> concurrent.futures.Future[None]:
        """Queues ``job``; the Future completes once it ran."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._jobs.put((job, done))
        return done

    def stop(self) -> None:
        """Ends the thread once the jobs queued before this one ran; never waits."""
        marker: concurrent.futures.Future[None] = concurrent.futures.Future()
        marker.cancel()
        self._jobs.put((_nothing, marker))

    def join(self) -> None:
        """Waits for the thread to end (after ``stop``)."""
        self._thread.join()


def _nothing() -> None:
    pass


async def _invoke(func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    outcome = func(*args)
    if inspect.isawaitable(outcome):
        return await outcome
    return outcome


class LoopThread:
    """An event loop running in a daemon thread, with its worker threads, in one process.

    ``call`` runs a function on the loop from another thread and waits for its value; ``stop``
    ends the loop from any thread without waiting; ``join`` waits for the threads. ``pid`` is
    the process the threads run in: a child made by ``fork`` has none of them.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.io_executor = _started_executor(IO_THREADS, "aikit-files-io")
        self.callbacks = CallbackThread()
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(self.io_executor)
        self._thread = threading.Thread(target=self._run, name="aikit-files-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            # NOTE: close() shuts the default executor down without waiting, so no new thread
            # is needed here (asyncio.run's shutdown would start one).
            self.loop.close()
            self.callbacks.stop()

    @property
    def in_loop_thread(self) -> bool:
        """Whether the caller runs on the loop's thread."""
        return threading.get_ident() == self._thread.ident

    def call(self, func: Callable[..., Any], *args: Any) -> Any:
        """Runs ``func(*args)`` on the loop (awaiting it if it is async) and returns its value.

        Raises:
            SyncInEventLoopError: called from the loop's own thread, where waiting would
                deadlock.
            ClientClosedError: the loop has stopped.
        """
        if self.in_loop_thread:
            raise SyncInEventLoopError(
                "the sync client was called from its own event loop's thread, where waiting "
                "for the call would deadlock; use AsyncClient in async code"
            )
        future = self.submit(_invoke(func, args))
        if future is None:
            raise ClientClosedError("the client is closed; no new call can start")
        try:
            return future.result()
        except BaseException:
            # NOTE: an interrupt (Ctrl-C) while waiting cancels the call it was waiting for.
            future.cancel()
            raise

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T] | None:
        """Runs ``coroutine`` on the loop without waiting; None (the coroutine closed) if the
        loop is closed."""
        try:
            return asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        except RuntimeError:
            coroutine.close()
            return None

    def park(self) -> Callable[[], None]:
        """Holds the loop's thread still, between two callbacks, until the function returned
        is called; waits at most ``PARK_WAIT`` seconds for it to stop.

        NOTE: for ``fork``: a lock the loop's thread holds when the process forks (an import
        under way, a logging handler's) stays held in the child forever, and the child's next
        use of it hangs. Parked between two callbacks, the thread holds none.
        """
        parked = threading.Event()
        resume = threading.Event()

        def hold_still() -> None:
            parked.set()
            resume.wait(PARK_WAIT)

        try:
            self.loop.call_soon_threadsafe(hold_still)
        except RuntimeError:  # the loop is closed
            return resume.set
        if not self.in_loop_thread:
            parked.wait(PARK_WAIT)
        return resume.set

    def stop(self) -> None:
        """Ends the loop once what it runs now yields; never waits, from any thread."""
        with contextlib.suppress(RuntimeError):  # the loop is closed already
            self.loop.call_soon_threadsafe(self.loop.stop)

    def join(self) -> None:
        """Waits for the loop's thread and the worker threads to end (after ``stop``)."""
        self._thread.join()
        self.io_executor.shutdown(wait=True)
        self.callbacks.join()
