"""A large file sent through the Uploads API: carries out the plan of ``_protocol.plan``.

``POST /uploads``, then each Part of the plan as a form over a byte range of the source, at
most ``plan.concurrency`` at once, each retried on its own; meanwhile a worker thread computes
the file's MD5, in order, which ``complete`` sends. With a journal (``resume``), a later run
takes up the Upload and sends only the Parts it lacks; the journal is locked while a run uses
it. Every Upload made is cancelled when the call fails or is cancelled (unless a journal keeps
it for a later run), and a file that a cancelled ``complete`` made anyway is deleted. What to
do after a refusal is ``after_refusal``'s choice, not this module's.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import os
import pathlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from ._exceptions import AIKitError, APIStatusError, InvalidArgumentError
from ._io import journal as journals
from ._io.body import report
from ._io.reading import forget, md5_of
from ._io.sinks import Sink, json_sink
from ._models import FileDeleted, OpenAIFile, Upload, UploadPart
from ._params import FileParameters, Parameters
from ._protocol.journal import DonePart, Journal, read_journal
from ._protocol.multipart import build_form
from ._protocol.plan import (
    CANCEL_TIMEOUT,
    COMPLETE_WAIT,
    Next,
    PartSpan,
    PartsProgress,
    Step,
    UploadPlan,
    after_refusal,
    check_expiry_allowed,
    plan_upload,
)
from ._protocol.requests import Endpoint, FormBody, RequestSpec
from ._protocol.responses import Reply
from ._protocol.sources import SourceKind, UploadSource
from ._recovery import FindFile
from ._transport import Recover, Transport

logger = logging.getLogger("aikit_files")
T = TypeVar("T")

UPLOAD_SINK = json_sink(Upload)
PART_SINK = json_sink(UploadPart)
_DELETED = json_sink(FileDeleted)
#: The parameters of the requests that clean up after a failed or cancelled call.
_CLEANUP = Parameters(timeout=CANCEL_TIMEOUT, max_retries=1)


def part_form(source: UploadSource, span: PartSpan | None, filename: str) -> FormBody:
    """The form of a Part: one file field, ``data``, over a byte range of the source."""
    form = build_form(
        [], file_field="data", filename=filename, content_type="application/octet-stream"
    )
    if span is None:
        return FormBody(form, source)
    return FormBody(form, source, span.offset, span.length)


async def _blocking(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


@attrs.define
class LargeUpload:
    """One large file sent through the Uploads API; ``run`` does it, once. Made by
    ``prepare``."""

    transport: Transport
    endpoint: Endpoint
    source: UploadSource
    filename: str
    purpose: str
    mime_type: str
    params: FileParameters
    plan: UploadPlan
    journal_path: pathlib.Path | None
    find_file: FindFile
    _mtime_ns: int = attrs.field(default=0, init=False)
    _upload_id: str | None = attrs.field(default=None, init=False)
    """The Upload this run fills, while it is pending and this run's to cancel."""
    _kept: bool = attrs.field(default=False, init=False)
    """Whether the journal on disk names ``_upload_id``, for a later run to take up."""

    @classmethod
    def prepare(
        cls,
        transport: Transport,
        endpoint: Endpoint,
        source: UploadSource,
        *,
        filename: str,
        purpose: str,
        mime_type: str,
        params: FileParameters,
        find_file: FindFile,
    ) -> LargeUpload:
        """The large upload of ``source`` (of known size), planned and checked; ``run()``
        sends it.

        Raises:
            InvalidArgumentError: a plan that cannot be (too many Parts), ``expires_after`` on
                Azure, or ``resume`` for a source that is not a path.
        """
        assert source.size is not None
        plan = plan_upload(
            source.size,
            params.part_size,
            params.max_concurrency,
            one_reader=source.kind is SourceKind.FILE,
        )
        check_expiry_allowed(endpoint.config.provider, params.expires_after)
        journal_path = None
        if params.resume:
            if source.kind is not SourceKind.PATH:
                raise InvalidArgumentError(
                    "resume needs the file as a path: only a path can be read again by a later run"
                )
            identity = (repr(endpoint), os.path.abspath(source.value), filename, purpose)
            journal_path = journals.path_for(params.resume, *identity)
        return cls(transport, endpoint, source, filename, purpose, mime_type, params, plan,
                   journal_path, find_file)  # fmt: skip

    async def run(self) -> Reply[OpenAIFile]:
        """Creates the Upload (or takes up the journal's), sends the missing Parts, completes.

        Returns:
            The file made, with the headers of the ``complete`` that made it.

        Raises:
            AIKitError: the upload failed; the Upload was cancelled, unless a journal keeps it
                (``LocalIOError`` when another process holds the journal's lock).
        """
        if self.journal_path is None:
            return await self._run()
        lock = journals.JournalLock(self.journal_path)
        # NOTE: taken before any request: an unwritable folder fails here, with no Upload made.
        await _blocking(lock.acquire)
        try:
            self._mtime_ns = (await _blocking(os.stat, self.source.value)).st_mtime_ns
            return await self._run()
        finally:
            lock.release()

    async def _run(self) -> Reply[OpenAIFile]:
        journal = await self._take_up_journal()
        md5: asyncio.Future[str]
        if self.source.kind is SourceKind.FILE:
            # NOTE: the caller's file object is read by one reader at a time: hashed first.
            md5 = asyncio.get_running_loop().create_future()
            md5.set_result(await md5_of(self.source))
        else:
            md5 = asyncio.ensure_future(md5_of(self.source))
        try:
            reply = await self._send(journal, md5)
        except BaseException:
            if not md5.done():
                md5.cancel()
            if self._upload_id is not None and not self._kept:
                await self._abandon(self._upload_id)
            raise
        if self.journal_path is not None:
            await _blocking(journals.remove, self.journal_path)
        return reply

    async def _send(self, journal: Journal | None, md5: asyncio.Future[str]) -> Reply[OpenAIFile]:
        """Sends the Parts the journal lacks and completes, starting over (once) when the
        journal's Upload turns out to be of no use."""
        resumed = journal is not None
        started_over = False
        if journal is None:
            journal = await self._start()
        else:
            self._upload_id, self._kept = journal.upload_id, True
            logger.info("resuming upload %s: %d of %d Parts done", journal.upload_id,
                        len(journal.parts), len(self.plan.parts))  # fmt: skip
        while True:
            step = Step.PART
            try:
                journal = await self._send_parts(journal, md5)
                step = Step.COMPLETE
                return await self._complete(journal, await md5)
            except APIStatusError as error:
                then = after_refusal(step, error.status_code, error.param,
                                     resumed=resumed, started_over=started_over)  # fmt: skip
                if then is Next.FAIL:
                    raise
                if then in (Next.LOOK_THEN_FAIL, Next.LOOK_THEN_START_OVER):
                    found = await self._look_for_file(journal)
                    if found is not None:
                        logger.info("Upload %s refused its %s: it was completed already, as "
                                    "file %s", journal.upload_id, step.value, found.value.id)  # fmt: skip
                        self._upload_id = None
                        return found
                    if then is Next.LOOK_THEN_FAIL:
                        raise
                logger.info("Upload %s refused its %s (%s): the journal is of no use; "
                            "starting over", journal.upload_id, step.value, error.message)  # fmt: skip
                self._upload_id = None
                await self._abandon(journal.upload_id, quiet=True)
                started_over = True
                journal = await self._start()

    async def _start(self) -> Journal:
        """A new Upload, and its journal (kept on disk if the upload is resumable)."""
        upload = await self._create()
        self._upload_id, self._kept = upload.id, False
        journal = Journal(
            upload_id=upload.id,
            created_at=upload.created_at,
            expires_at=upload.expires_at,
            size=self.plan.size,
            mtime_ns=self._mtime_ns,
            part_size=self.plan.part_size,
        )
        await self._save(journal)
        return journal

    async def _take_up_journal(self) -> Journal | None:
        """The journal of an earlier run of this upload, if it can still be used; one that
        cannot is removed (its Upload cancelled), with one log line saying why."""
        if self.journal_path is None:
            return None
        raw = await _blocking(journals.read, self.journal_path)
        if raw is None:
            return None
        read = read_journal(raw, self.plan, self._mtime_ns, time.time())
        if isinstance(read, Journal):
            return read
        logger.info("discarding the upload journal %s: %s; starting over",
                    self.journal_path, read.reason)  # fmt: skip
        if read.upload_id is not None:
            await self._abandon(read.upload_id, quiet=True)
        await _blocking(journals.remove, self.journal_path)
        return None

    async def _create(self) -> Upload:
        spec = self.endpoint.create_upload(
            filename=self.filename,
            purpose=self.purpose,
            size=self.plan.size,
            mime_type=self.mime_type,
            expires_after=self.params.expires_after,
        )
        creating = asyncio.ensure_future(self.transport.send(spec, self.params, UPLOAD_SINK))
        try:
            reply = await asyncio.shield(creating)
        except asyncio.CancelledError:
            # NOTE: the server may have made the Upload already: hear the answer (briefly),
            # and cancel what it made, so that nothing pending is left behind.
            made = await _outcome(creating, CANCEL_TIMEOUT)
            if made is not None:
                await self._abandon(made.value.id)
            raise
        return reply.value

    async def _send_parts(self, journal: Journal, md5: asyncio.Future[str]) -> Journal:
        """Sends the Parts the journal lacks, ``plan.concurrency`` at once; returns the
        journal with every Part done."""
        done = journal.done()
        todo = collections.deque(self.plan.missing(done))
        progress = PartsProgress(
            functools.partial(report, self.params.on_progress),
            self.plan.size,
            self.plan.bytes_of(done),
        )
        progress.report()
        upload_id = journal.upload_id
        saving = asyncio.Lock()

        async def worker() -> None:
            nonlocal journal
            while todo:
                span = todo.popleft()
                part = await self._add_part(upload_id, span, progress)
                progress.part_done(span.number, span.length)
                async with saving:
                    journal = journal.with_part(DonePart(span.number, part.id))
                    await self._save(journal)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.plan.concurrency, len(todo))):
                    group.create_task(worker())
                # NOTE: a failed MD5 pass (the source changed) ends the upload too.
                group.create_task(_wait_quietly(md5))
        except BaseExceptionGroup as failures:
            # NOTE: the call fails as its first Part did (the others were cancelled for it).
            raise _first_failure(failures) from None
        return journal

    async def _add_part(
        self, upload_id: str, span: PartSpan, progress: PartsProgress
    ) -> UploadPart:
        body = part_form(self.source, span, self.filename)
        spec = self.endpoint.add_upload_part(upload_id, body)
        reply: Reply[UploadPart] = await self.transport.send(
            spec, self.params, PART_SINK, on_progress=progress.of_part(span.number)
        )
        return reply.value

    async def _complete(self, journal: Journal, md5: str) -> Reply[OpenAIFile]:
        spec = self.endpoint.complete_upload(journal.upload_id, journal.part_ids(), md5)

        async def find(started: float) -> Reply[Upload] | None:
            found = await self._look_for_file(journal)
            if found is None:
                return None
            upload = Upload(id=journal.upload_id, bytes=self.plan.size, filename=self.filename,
                            purpose=self.purpose, status="completed", file=found.value)  # fmt: skip
            return Reply(upload, found.headers)

        recover: Recover[Upload] = find
        completing = asyncio.ensure_future(
            self.transport.send(spec, self.params, UPLOAD_SINK, recover=recover)
        )
        try:
            reply = await asyncio.shield(completing)
        except asyncio.CancelledError:
            if self._kept:
                # NOTE: the journal keeps the Upload: a later run completes it (and gets the
                # file this complete may yet make).
                completing.cancel()
                raise
            # NOTE: the complete may make the file all the same: hear its answer, and delete
            # the file, so that a cancelled call leaves nothing behind.
            made = await _outcome(completing, COMPLETE_WAIT)
            self._upload_id = None
            if made is not None and made.value.file is not None:
                await self._delete(made.value.file.id, journal.upload_id)
            else:
                note = f"; if its complete went through, a file {self.filename!r} remains"
                await self._abandon(journal.upload_id, note=note)
            raise
        self._upload_id = None
        file = reply.value.file
        if file is None:
            raise AIKitError(f"the server completed Upload {journal.upload_id} but named no file")
        return Reply(file, reply.headers)

    async def _look_for_file(self, journal: Journal) -> Reply[OpenAIFile] | None:
        """The file the journal's Upload made, if the server has one (an earlier run, or an
        attempt whose answer was lost, completed it)."""
        since = float(journal.created_at)
        return await self.find_file(self.filename, self.plan.size, self.purpose, self.params,
                                    since)  # fmt: skip

    async def _save(self, journal: Journal) -> None:
        if self.journal_path is not None:
            await _blocking(journals.save, self.journal_path, journal)
            self._kept = True

    async def _abandon(self, upload_id: str, *, quiet: bool = False, note: str = "") -> None:
        """Cancels an Upload no one will complete, so the server drops its Parts.

        ``quiet``: the Upload is known to be of no use already (expired, refused): failing to
        cancel it is no news. ``note``: what a failure to cancel it may have left behind.
        """
        error = await self._tidy(self.endpoint.cancel_upload(upload_id), UPLOAD_SINK)
        if error is not None:
            level = logging.DEBUG if quiet else logging.WARNING
            logger.log(level, "could not cancel Upload %s: %s%s", upload_id, error, note)

    async def _delete(self, file_id: str, upload_id: str) -> None:
        """Deletes the file a cancelled call made all the same."""
        error = await self._tidy(self.endpoint.delete_file(file_id), _DELETED)
        logger.log(logging.INFO if error is None else logging.WARNING,
                   "the call was cancelled as Upload %s made file %s: %s", upload_id, file_id,
                   "deleted it" if error is None else f"it could not be deleted ({error})")  # fmt: skip

    async def _tidy(self, spec: RequestSpec, sink: Sink[Any]) -> AIKitError | None:
        """Sends a request that cleans up after the call: bounded, best effort, and carried
        on even while the call itself is being cancelled. Returns the error it failed with."""
        sending = asyncio.ensure_future(self.transport.send(spec, _CLEANUP, sink))
        try:
            await asyncio.shield(sending)
        except asyncio.CancelledError:
            # NOTE: cancelled while cleaning up: the request goes on; its outcome is moot.
            forget(sending)
            raise
        except AIKitError as error:
            return error
        return None


async def _outcome(request: asyncio.Future[Reply[T]], bound: float) -> Reply[T] | None:
    """The reply of a request whose call was cancelled while it was in flight, if it comes
    within ``bound`` seconds (the request is cancelled past them); None if it failed."""
    try:
        async with asyncio.timeout(bound):
            return await asyncio.shield(request)
    except TimeoutError:
        request.cancel()
        forget(request)
        return None
    except asyncio.CancelledError:
        # NOTE: cancelled again while waiting: give up on the answer.
        request.cancel()
        forget(request)
        raise
    except AIKitError:
        return None


def _first_failure(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error a group of Parts failed with: the first that is not a cancellation."""
    real = group.subgroup(lambda e: not isinstance(e, BaseExceptionGroup | asyncio.CancelledError))
    first: BaseException = real or group
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first


async def _wait_quietly(future: asyncio.Future[str]) -> None:
    # NOTE: shielded: when the Parts fail and the group cancels this wait, the MD5 pass goes on
    # (a resumed upload that starts over still needs it; the call cancels it if it fails).
    await asyncio.shield(future)
