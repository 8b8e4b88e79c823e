"""create_many: carries out the many-files plan with ``create``'s upload.

``plan_batch`` checks the arguments and expands the sources before any I/O; ``Batch.run`` then
lists the purpose's files once (when something may be skipped), decides what to skip
(``_protocol.many``), and sends each other file with ``create``'s upload (within the file's own
total time limit) from ``concurrency`` worker tasks, no more in flight than ``Pacing`` allows,
recording each in the manifest as it goes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import inspect
import logging
import os
import pathlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from typing import IO, Any, Final, TypeAlias

import attrs

from ._calls import error_infos, failure_fields
from ._deadline import within_total
from ._exceptions import AIKitError, InvalidArgumentError, InvalidArgumentTypeError
from ._io import journal as journals
from ._io import manifest as manifests
from ._io.tree import expand, read_small
from ._models import OpenAIFile
from ._params import FileParameters, check_integer
from ._protocol.many import Entry, Outcome, Record, Skip, decide
from ._protocol.pacing import Pacing, RateLimitListener, Rejoin, rate_limit_listener
from ._protocol.plan import goes_in_parts
from ._protocol.responses import Reply
from ._results import ErrorInfo, FileResult, ManyResult

logger = logging.getLogger("aikit_files")

#: A file on disk no larger than this is read whole and sent from memory.
SMALL_FILE: Final = 256 * 1024
#: The name of the tasks that send a batch's files.
WORKER: Final = "aikit_files.create_many:worker"
#: Files a page of the listing that finds what is already there holds (the API's most).
LISTING_PAGE: Final = 10_000

#: One source of a batch: a path, a directory, or a (path, blob or file object; filename) pair.
ManySource: TypeAlias = (
    str
    | os.PathLike[str]
    | tuple[str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes], str]
)
#: Called with each file's ``FileResult`` as it ends (a plain or a coroutine function).
FileCallback = Callable[[FileResult], Any]
#: The upload of ``AsyncFilesAPI.create`` (source, purpose, parameters), not started yet.
Make = Callable[..., Coroutine[Any, Any, Reply[OpenAIFile]]]
#: The total time limit of a call with given parameters (``Transport.total``).
TimeLimit = Callable[[FileParameters], float | None]
#: ``AsyncFilesAPI.iterate``, as a batch uses it.
Iterate = Callable[..., AsyncIterator[OpenAIFile]]


def _patterns(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Iterable) or not all(isinstance(p, str) for p in value):
        raise InvalidArgumentTypeError(f"{name} must be a glob pattern or a sequence of them")
    return tuple(value)


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgumentTypeError(f"{name} must be True or False, not {type(value).__name__}")
    return value


def many_result(results: list[FileResult], *, cancelled: bool = False) -> ManyResult:
    """The result of a batch whose files ended with ``results``, with its counts."""
    counts = Counter(r.outcome for r in results)
    errors = []
    if counts["failed"]:
        first = next(r for r in results if r.outcome == "failed")
        why = first.errors[0].message if first.errors else "no details"
        errors.append(ErrorInfo(message=f"{counts['failed']} of {len(results)} files failed; "
                                f"the first, {first.source}: {why}", type="batch"))  # fmt: skip
    if cancelled:
        errors += error_infos(asyncio.CancelledError())
    return ManyResult(success=not errors, errors=errors, cancelled=cancelled, results=results,
                      created=counts["created"], skipped=counts["skipped"],
                      failed=counts["failed"], not_started=counts["not_started"])  # fmt: skip


def plan_batch(
    sources: object,
    purpose: str,
    params: FileParameters,
    *,
    concurrency: object,
    include: object,
    exclude: object,
    hidden: object,
    skip_existing: object,
    manifest: object,
    on_file: object,
    make: Make,
    time_limit: TimeLimit,
    iterate: Iterate,
    upload_limit: int,
) -> Batch:
    """Checks the arguments of ``create_many`` and expands its sources, before any I/O.

    Raises:
        InvalidArgumentError: a bad argument, or a source that cannot be sent.
    """
    check_integer("concurrency", concurrency, 1, None)
    assert isinstance(concurrency, int)
    if params.filename is not None:
        raise InvalidArgumentError(
            "filename names one file: give each file of a batch its name with a "
            "(source, filename) pair"
        )
    if params.resume is not None and not isinstance(params.resume, bool):
        raise InvalidArgumentError(
            "resume takes True or False in a batch: each large file has its own journal"
        )
    if on_file is not None and not callable(on_file):
        raise InvalidArgumentTypeError(f"on_file must be callable, not {type(on_file).__name__}")
    writer = None
    records: dict[tuple[str, str], Record] = {}
    if manifest is not None:
        if not isinstance(manifest, str | os.PathLike) or not os.fspath(manifest):
            raise InvalidArgumentTypeError("manifest must be a path (str or os.PathLike)")
        manifest_path = pathlib.Path(os.fsdecode(manifest))
        manifests.check_writable(manifest_path)
        records = manifests.read(manifest_path)
        writer = manifests.ManifestWriter(manifest_path, purpose)
    entries, values = expand(
        sources,
        _patterns("include", include),
        _patterns("exclude", exclude),
        _flag("hidden", hidden),
        upload_limit,
    )
    return Batch(
        entries=entries,
        values=values,
        purpose=purpose,
        params=params,
        pacing=Pacing(concurrency),
        skip_existing=_flag("skip_existing", skip_existing),
        manifest=writer,
        records=records,
        on_file=on_file,
        make=make,
        time_limit=time_limit,
        iterate=iterate,
    )


@attrs.define(kw_only=True, eq=False)
class Batch:
    """One ``create_many`` call: its files, and what has become of each so far."""

    entries: list[Entry]
    values: list[Any]
    purpose: str
    params: FileParameters
    pacing: Pacing
    skip_existing: bool
    manifest: manifests.ManifestWriter | None
    records: dict[tuple[str, str], Record]
    on_file: FileCallback | None
    make: Make
    time_limit: TimeLimit
    iterate: Iterate
    results: list[FileResult | None] = attrs.field(init=False)
    workers: list[asyncio.Task[None]] = attrs.Factory(list)
    """The tasks that send the files, ``concurrency`` of them at most."""
    in_flight: set[int] = attrs.Factory(set)
    """The files being sent."""
    parked: set[int] = attrs.Factory(set)
    """The files in flight that wait to send again after a 429."""
    deliveries: set[asyncio.Task[None]] = attrs.Factory(set)
    ended: asyncio.Event = attrs.Factory(asyncio.Event)
    pending: collections.deque[int] = attrs.Factory(collections.deque)
    """The files to send not started yet, in order."""
    sent: dict[int, int] = attrs.Factory(dict)
    sent_total: int = 0
    stale_journals: bool = False
    """Whether the manifest's folder of journals is there (a run was killed mid-Upload)."""
    total: int | None = None

    file_params: FileParameters = attrs.field(init=False)
    """The parameters of each file: the batch's, without its callbacks (``resume`` and
    ``on_progress`` are each file's own)."""

    def __attrs_post_init__(self) -> None:
        self.results = [None] * len(self.entries)
        self.file_params = attrs.evolve(
            self.params, on_terminate=None, on_response=None, on_error=None, resume=None
        )

    async def run(self) -> Reply[ManyResult]:
        """Sends the batch; its reply holds the ``ManyResult``."""
        try:
            decisions = await self._decide()
            if self.manifest is not None:
                self.manifest.open(self.records)
                self.stale_journals = self.manifest.journals.is_dir()
            for index, decision in enumerate(decisions):
                if isinstance(decision, Skip):
                    self._skipped(index, decision)
            to_send = [i for i, d in enumerate(decisions) if d is None]
            sizes = [self.entries[i].size for i in to_send]
            self.total = None if None in sizes else sum(s for s in sizes if s is not None)
            self.pending.extend(to_send)
            loop = asyncio.get_running_loop()
            workers = min(self.pacing.ceiling, len(to_send))
            self.workers = [loop.create_task(self._worker(), name=WORKER) for _ in range(workers)]
            await asyncio.gather(*self.workers)
        except asyncio.CancelledError:
            await self._stop()
            raise
        except AIKitError as exc:
            # NOTE: the listing (or the manifest) failed: no file could be decided on. (No
            # worker runs then; were one to raise, none would go on behind this report.)
            await self._stop_workers()
            for index, result in enumerate(self.results):
                if result is None:
                    self._end(index, "failed", errors=error_infos(exc), exception=exc)
        except BaseException:
            # NOTE: a worker failed where it should not (each file's failure is recorded in
            # its place): the others stop with the batch.
            await self._stop()
            raise
        finally:
            if self.manifest is not None:
                with contextlib.suppress(AIKitError):
                    self.manifest.close()
        await self._delivered()
        return Reply(many_result(self._final()), {})

    def cancelled_result(self) -> ManyResult:
        """The result of the batch once cancelled: the files that ended, and the others."""
        # NOTE: a batch cancelled before its first step never reported its files: it does now.
        for index, result in enumerate(self.results):
            if result is None:
                self._end(index, "not_started")
        return many_result(self._final(), cancelled=True)

    def _final(self) -> list[FileResult]:
        return [
            r if r is not None else self._result(i, "not_started")
            for i, r in enumerate(self.results)
        ]

    async def _decide(self) -> list[Skip | None]:
        keyed = any(e.path is not None and (e.path, e.filename) in self.records
                    for e in self.entries)  # fmt: skip
        if not self.entries or not (self.skip_existing or keyed):
            return [None] * len(self.entries)
        params = self.params
        listing = [
            file
            async for file in self.iterate(
                purpose=self.purpose,
                limit=LISTING_PAGE,
                timeout=params.timeout,
                max_retries=params.max_retries,
                extra_headers=params.extra_headers,
            )
        ]
        return decide(self.entries, listing, self.records, skip_existing=self.skip_existing)

    async def _slot(self) -> None:
        """Waits until one more file may be in flight."""
        loop = asyncio.get_running_loop()
        while (wait := self.pacing.wait(self._active(), loop.time())) != 0:
            if wait is None:
                self.ended.clear()
                await self.ended.wait()
            else:
                await asyncio.sleep(wait)

    def _active(self) -> int:
        """The files in flight, but those waiting to send again after a 429."""
        return len(self.in_flight) - len(self.parked)

    def _listener(self, index: int) -> RateLimitListener:
        def on_rate_limited(delay: float | None) -> Rejoin:
            self.parked.add(index)
            self.pacing.rate_limited(delay, asyncio.get_running_loop().time(), self._active())
            self.ended.set()
            return functools.partial(self._rejoin, index)

        return on_rate_limited

    async def _rejoin(self, index: int) -> None:
        """Waits, before a file sends again after a 429, for its place among those in flight."""
        if index in self.parked:
            await self._slot()
            self.parked.discard(index)

    async def _worker(self) -> None:
        """Sends the files still to send, one at a time, each when the pacing lets it start."""
        while self.pending:
            await self._slot()
            if self.pending:
                await self._send(self.pending.popleft())

    async def _send(self, index: int) -> None:
        """Sends one file and records what became of it (a failure included)."""
        entry = self.entries[index]
        large = goes_in_parts(entry.size, self.params.upload_threshold)
        params = self.file_params
        if large or params.on_progress:
            params = attrs.evolve(
                params,
                on_progress=self._progress(index) if params.on_progress else None,
                resume=self._resume(entry) if large else None,
            )
        self.in_flight.add(index)
        try:
            token = rate_limit_listener.set(self._listener(index))
            try:
                if self.manifest is not None and entry.path is not None:
                    # NOTE: recorded before it is sent: a rerun after a kill looks for it.
                    self.manifest.add(self._record(entry, "sending"))
                value = self.values[index]
                if not large and entry.path is not None and (entry.size or 0) <= SMALL_FILE:
                    # NOTE: a small file costs half the CPU sent from memory than streamed from
                    # its path (a head, sendfile and a tail, each a syscall); at most
                    # ``concurrency`` of them are held at once.
                    value = read_small(value, SMALL_FILE, entry.size) or value
                making = self.make(value, self.purpose, params, entry.filename)
                reply = await within_total(making, self.time_limit(params))
            finally:
                # NOTE: out of flight, and its listener gone, before ``on_file`` hears of it:
                # the calls a callback makes are not this file's, nor paced by the batch.
                rate_limit_listener.reset(token)
                self.in_flight.discard(index)
                self.parked.discard(index)
                self.ended.set()
        except asyncio.CancelledError:
            self._end(index, "failed", **failure_fields(None))
            raise
        except Exception as exc:
            self._end(index, "failed", **failure_fields(exc))
        else:
            self._created(index, reply.value)

    def _resume(self, entry: Entry) -> bool | str | os.PathLike[str] | None:
        """The ``resume`` of a large file: with a manifest, a journal beside it, so that a
        rerun resumes its Upload."""
        if self.params.resume is None and self.manifest is not None and entry.path is not None:
            return self.manifest.journal(entry.path, entry.filename)
        return self.params.resume

    def _record(self, entry: Entry, state: Any, file_id: str | None = None) -> Record:
        # NOTE: only a file on disk is recorded, and its size and mtime are known.
        path, size, mtime_ns = entry.path, entry.size, entry.mtime_ns
        assert path is not None
        assert size is not None
        assert mtime_ns is not None
        return Record(path, entry.filename, size, mtime_ns, state, time.time(), file_id)

    def _progress(self, index: int) -> Callable[[int, int | None], None]:
        on_progress = self.params.on_progress
        assert on_progress is not None

        def report(sent: int, total: int | None) -> None:
            self.sent_total += sent - self.sent.get(index, 0)
            self.sent[index] = sent
            on_progress(self.sent_total, self.total)

        return report

    def _created(self, index: int, file: OpenAIFile) -> None:
        self.pacing.succeeded()
        entry = self.entries[index]
        if self.manifest is not None and entry.path is not None:
            try:
                self.manifest.add(self._record(entry, "created", file.id))
            except AIKitError:
                logger.exception("the manifest could not record %s; a rerun sends it again",
                                 file.id)  # fmt: skip
        self._end(index, "created", file=file)

    def _skipped(self, index: int, skip: Skip) -> None:
        entry = self.entries[index]
        if self.manifest is not None and entry.path is not None:
            self.manifest.add(self._record(entry, "created", skip.file.id))
            if self.stale_journals:
                # NOTE: a large file completed by a killed run may have left its journal.
                journals.remove(self.manifest.journal(entry.path, entry.filename))
        self._end(index, "skipped", file=skip.file)

    def _result(self, index: int, outcome: Outcome, **fields: Any) -> FileResult:
        file = fields.get("file")
        return FileResult(
            success=outcome in ("created", "skipped"),
            value=file,
            source=self.entries[index].source,
            outcome=outcome,
            **fields,
        )

    def _end(self, index: int, outcome: Outcome, **fields: Any) -> None:
        """Records a file's result and hands it to ``on_file``, once."""
        result = self._result(index, outcome, **fields)
        self.results[index] = result
        if self.on_file is None:
            return
        try:
            outcome_of_call = self.on_file(result)
        except Exception:
            logger.exception("on_file %r raised; the batch goes on", self.on_file)
            return
        if inspect.isawaitable(outcome_of_call):
            delivery = asyncio.get_running_loop().create_task(_settle(outcome_of_call))
            self.deliveries.add(delivery)
            delivery.add_done_callback(self.deliveries.discard)

    async def _stop(self) -> None:
        """Cancels the files in flight, waits for them to end, then reports the rest."""
        await self._stop_workers()
        for index, result in enumerate(self.results):
            if result is None:
                self._end(index, "not_started")
        with contextlib.suppress(asyncio.CancelledError):
            await self._delivered()

    async def _stop_workers(self) -> None:
        """Cancels the workers and waits for them (and the files they were sending) to end."""
        for worker in self.workers:
            worker.cancel()
        while pending := [worker for worker in self.workers if not worker.done()]:
            # NOTE: a second cancel while the files end must not leave them running.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(pending)

    async def _delivered(self) -> None:
        while self.deliveries:
            await asyncio.wait(list(self.deliveries))


async def _settle(outcome: Awaitable[Any]) -> None:
    try:
        await outcome
    except Exception:
        logger.exception("on_file raised; the batch goes on")
