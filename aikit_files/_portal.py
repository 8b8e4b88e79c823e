"""The sync client's engine: anyio's blocking portal (an event loop in a thread of its own), a
callback thread, and worker threads that all exist from the start.

``Portal`` runs coroutines on the portal's loop from any other thread (``call``) and stops it
from any thread without waiting (``stop``), the loop's own included. Its threads are made when
the client is: since Python 3.12 no thread can start once the interpreter is exiting, yet a
client a script forgot to close still finishes its calls then (``_sync``'s exit hook). The
portal's thread is a daemon (anyio 4.5 and later), as is the callback thread: both still run
at ``atexit``, where ``_compat.register_exit_hook`` falls back to.

The portal was chosen over a loop thread of our own (issue 13) once it passed every lifetime
test (tests/sync: a dropped client, a client without a name, 200 callbacks delivered at exit
on Python 3.11, 3.12 and 3.13, a Jupyter kernel, fork). What it needed: leaving the portal's
context waits for its thread and is refused on the loop's thread, where the collector may
finalize a dropped client, so ``stop`` hands that to the callback thread there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

import anyio.from_thread

from ._exceptions import ClientClosedError, SyncInEventLoopError

T = TypeVar("T")

#: Worker threads for the loop's blocking work (file reads and writes, name lookups).
IO_THREADS: Final = min(8, (os.cpu_count() or 1) + 4)
#: The longest a fork waits for a busy loop to park (``Portal.park``), in seconds.
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


class Portal:
    """anyio's blocking portal, started at once, with the worker threads of its loop and the
    client's callback thread, in one process.

    ``call`` runs a function on the loop from another thread and waits for its value; ``stop``
    ends the portal from any thread without waiting; ``join`` waits for the threads. ``pid`` is
    the process the threads run in: a child made by ``fork`` has none of them.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.io_executor = _started_executor(IO_THREADS, "aikit-files-io")
        self.callbacks = CallbackThread()
        self._portal_cm = anyio.from_thread.start_blocking_portal(name="aikit-files-loop")
        self._portal = self._portal_cm.__enter__()
        self.loop: asyncio.AbstractEventLoop = self._portal.call(asyncio.get_running_loop)
        self._ident: int = self._portal.call(threading.get_ident)
        # NOTE: the loop's blocking work (file reads, name lookups) goes to threads made now.
        self._portal.call(self.loop.set_default_executor, self.io_executor)
        self._stopping = False
        self._lock = threading.Lock()

    @property
    def in_loop_thread(self) -> bool:
        """Whether the caller runs on the loop's thread."""
        return threading.get_ident() == self._ident

    def call(self, func: Callable[..., Any], *args: Any) -> Any:
        """Runs ``func(*args)`` on the loop (awaiting it if it is async) and returns its value.

        Raises:
            SyncInEventLoopError: called from the loop's own thread, where waiting would
                deadlock.
            ClientClosedError: the portal has stopped.
        """
        if self.in_loop_thread:
            raise SyncInEventLoopError(
                "the sync client was called from its own event loop's thread, where waiting "
                "for the call would deadlock; use AsyncClient in async code"
            )
        try:
            future = self._portal.start_task_soon(_invoke, func, args)
        except RuntimeError:  # "This portal is not running"
            raise ClientClosedError("the client is closed; no new call can start") from None
        try:
            return future.result()
        except BaseException:
            # NOTE: an interrupt (Ctrl-C) while waiting cancels the call it was waiting for.
            future.cancel()
            raise

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T] | None:
        """Runs ``coroutine`` on the loop without waiting, from any thread (the loop's
        included); None (the coroutine closed) if the loop is closed."""
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
        """Stops the portal once its tasks ended, then the worker and callback threads; never
        waits, from any thread.

        NOTE: leaving the portal's context waits for its thread and is refused on the loop's
        thread, where a dropped client's finalizer may run: there, the callback thread does it.
        """
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        if self.in_loop_thread or threading.get_ident() == self.callbacks.ident:
            self.callbacks.submit(self._end)
        else:
            self._end()

    def _end(self) -> None:
        try:
            self._portal_cm.__exit__(None, None, None)
        finally:
            self.io_executor.shutdown(wait=False)
            self.callbacks.stop()

    def join(self) -> None:
        """Waits for the worker and callback threads to end (after ``stop``)."""
        self.io_executor.shutdown(wait=True)
        self.callbacks.join()
