"""The Uploads API: its four calls (``AsyncUploadsAPI``), and a large file sent through it in
Parts streamed from byte ranges of the source, several in flight, resumable from a journal.

A large upload, as ``create`` runs it (``LargeUpload``): ``POST /uploads``, then each Part of
the plan (``plan_parts``) as a form over a byte range of the source, at most
``max_concurrency`` at once, each retried on its own; meanwhile a worker thread computes the
file's MD5, in order, which ``complete`` sends. The Upload is cancelled when the call fails or
is cancelled, unless a journal keeps it for a later run (``resume``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import pathlib
import re
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Final

import attrs

from ._calls import CallTracker
from ._exceptions import (
    AIKitError,
    APIStatusError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
)
from ._io import journal as journals
from ._io.body import report
from ._io.reading import forget, md5_of
from ._io.sinks import json_sink
from ._models import (
    ExpiresAfter,
    OpenAIFile,
    Upload,
    UploadPart,
    UploadPartResult,
    UploadResult,
)
from ._params import (
    FileParameters,
    Parameters,
    ParametersArg,
    ProgressCallback,
    check_integer,
    check_line,
    expires_after_from_mapping,
    forbid_content_type,
    merge,
)
from ._protocol.multipart import build_form
from ._protocol.plan import PartSpan, plan_parts
from ._protocol.requests import Endpoint, FormBody, check_object_id
from ._protocol.responses import Reply
from ._protocol.sources import SourceKind, UploadFile, UploadSource, describe_source
from ._transport import Recover, Transport

logger = logging.getLogger("aikit_files")


#: Defaults of a large upload's settings (``FileParameters``).
DEFAULT_PART_SIZE: Final = 64 * 1024 * 1024
DEFAULT_MAX_CONCURRENCY: Final = 4
#: A journal whose Upload expires sooner than this is of no use: the upload starts over.
EXPIRY_MARGIN: Final = 300
#: How long cancelling an abandoned Upload may take, at most.
CANCEL_TIMEOUT: Final = 10.0

_UPLOAD = json_sink(Upload)
_PART = json_sink(UploadPart)
_MD5: Final = re.compile(r"[0-9a-fA-F]{32}")

#: Finds the file a completed Upload made, if the server has it: (filename, size, purpose,
#: parameters, since) -> the reply that would have carried it.
FindFile = Callable[
    [str, "int | None", str, Parameters, float], Coroutine[Any, Any, "Reply[OpenAIFile] | None"]
]


def _check_part_ids(part_ids: object) -> list[str]:
    if isinstance(part_ids, str | bytes) or not isinstance(part_ids, Sequence):
        raise InvalidArgumentTypeError(
            f"part_ids must be a list of Part ids, not {type(part_ids).__name__}"
        )
    if not part_ids:
        raise InvalidArgumentError("part_ids must name at least one Part")
    return [check_object_id(part_id, "part_ids[]") for part_id in part_ids]


def _check_md5(md5: object) -> str | None:
    if md5 is None:
        return None
    if not isinstance(md5, str):
        raise InvalidArgumentTypeError(f"md5 must be a string, not {type(md5).__name__}")
    if not _MD5.fullmatch(md5):
        raise InvalidArgumentError(f"md5 must be 32 hexadecimal digits, got {md5!r}")
    return md5.lower()


def _check_expires_after(value: object) -> ExpiresAfter | None:
    if value is None or isinstance(value, ExpiresAfter):
        return value
    if isinstance(value, Mapping):
        return expires_after_from_mapping(value)
    raise InvalidArgumentTypeError(
        f"expires_after must be an ExpiresAfter, not {type(value).__name__}"
    )


def part_form(source: UploadSource, span: PartSpan | None, filename: str) -> FormBody:
    """The form of a Part: one file field, ``data``, over a byte range of the source."""
    form = build_form(
        [], file_field="data", filename=filename, content_type="application/octet-stream"
    )
    if span is None:
        return FormBody(form, source)
    return FormBody(form, source, span.offset, span.length)


class AsyncUploadsAPI:
    """The Uploads API, as openai-python exposes it: ``create``, ``add_part``, ``complete``,
    ``cancel``.

    Each method checks its arguments at once (a bad one raises ``InvalidArgumentError`` before
    any I/O, and no callback fires), then returns an ``asyncio.Task`` whose result also goes to
    the callbacks of ``parameters``. ``AsyncFilesAPI.create`` uses this API on its own for a
    file larger than ``upload_threshold``.
    """

    def __init__(self, transport: Transport, endpoint: Endpoint, tracker: CallTracker) -> None:
        self._transport = transport
        self._endpoint = endpoint
        self._tracker = tracker

    def __repr__(self) -> str:
        return f"AsyncUploadsAPI({self._endpoint!r})"

    # --- the four calls --------------------------------------------------------------------

    def create(
        self,
        filename: str,
        purpose: str,
        bytes: int,
        mime_type: str,
        parameters: ParametersArg = None,
        *,
        expires_after: ExpiresAfter | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> asyncio.Task[Upload]:
        """Creates an Upload that will take ``bytes`` bytes in Parts (``POST /uploads``).

        Args:
            filename: the name of the file to make.
            purpose: what the file is for.
            bytes: the file's size: the Parts must add up to it.
            mime_type: the file's MIME type.
            parameters: a ``Parameters`` (or a mapping of its fields).
            expires_after: when the file made expires (``af.ExpiresAfter``).
            **options: fields of ``Parameters``, overriding ``parameters``.

        Returns:
            A task whose value is the ``Upload`` (``pending``).

        Raises:
            InvalidArgumentError: a bad argument.
        """
        params = merge(Parameters, parameters, options)
        forbid_content_type(params)
        expiry = _check_expires_after(expires_after)
        self._check_expiry_allowed(expiry)
        spec = self._endpoint.create_upload(
            filename=check_line("filename", filename),
            purpose=check_line("purpose", purpose),
            size=check_integer("bytes", bytes, 0, self._endpoint.config.upload_limit),
            mime_type=check_line("mime_type", mime_type),
            expires_after=expiry,
        )
        return self._tracker.start(
            self._transport.send(spec, params, _UPLOAD), params, UploadResult, "uploads.create"
        )

    def add_part(
        self, upload_id: str, data: UploadFile, parameters: ParametersArg = None, **options: Any
    ) -> asyncio.Task[UploadPart]:
        """Adds a Part to an Upload (``POST /uploads/{upload_id}/parts``).

        Args:
            upload_id: the Upload.
            data: the Part's bytes: a path, bytes-like, a binary file object or an async
                iterable of bytes, streamed as ``create``'s ``file`` is.
            parameters: a ``Parameters`` (or a mapping of its fields).
            **options: fields of ``Parameters``, overriding ``parameters``.

        Returns:
            A task whose value is the ``UploadPart``: its ``id`` goes to ``complete``.

        Raises:
            InvalidArgumentError: a bad argument, or a Part over the API's limit (64 MiB on
                OpenAI).
        """
        params = merge(Parameters, parameters, options)
        forbid_content_type(params)
        check_object_id(upload_id, "upload_id")
        source = describe_source(data, self._endpoint.config.part_limit)
        spec = self._endpoint.add_upload_part(upload_id, part_form(source, None, "data"))
        return self._tracker.start(
            self._transport.send(spec, params, _PART), params, UploadPartResult, "uploads.add_part"
        )

    def complete(
        self,
        upload_id: str,
        part_ids: Sequence[str],
        parameters: ParametersArg = None,
        *,
        md5: str | None = None,
        **options: Any,
    ) -> asyncio.Task[Upload]:
        """Completes an Upload: its Parts, in this order, make the file
        (``POST /uploads/{upload_id}/complete``).

        Args:
            upload_id: the Upload.
            part_ids: the ids of its Parts, in the file's order.
            parameters: a ``Parameters`` (or a mapping of its fields).
            md5: the file's MD5 (hex), which the server checks.
            **options: fields of ``Parameters``, overriding ``parameters``.

        Returns:
            A task whose value is the ``Upload``, ``completed``, with its ``file``.

        Raises:
            InvalidArgumentError: a bad argument.
        """
        params = merge(Parameters, parameters, options)
        forbid_content_type(params)
        spec = self._endpoint.complete_upload(
            check_object_id(upload_id, "upload_id"), _check_part_ids(part_ids), _check_md5(md5)
        )
        return self._tracker.start(
            self._transport.send(spec, params, _UPLOAD), params, UploadResult, "uploads.complete"
        )

    def cancel(
        self, upload_id: str, parameters: ParametersArg = None, **options: Any
    ) -> asyncio.Task[Upload]:
        """Cancels an Upload; its Parts are dropped (``POST /uploads/{upload_id}/cancel``).

        Returns:
            A task whose value is the ``Upload``, ``cancelled``.

        Raises:
            InvalidArgumentError: a bad argument.
        """
        params = merge(Parameters, parameters, options)
        spec = self._endpoint.cancel_upload(check_object_id(upload_id, "upload_id"))
        return self._tracker.start(
            self._transport.send(spec, params, _UPLOAD), params, UploadResult, "uploads.cancel"
        )

    def _check_expiry_allowed(self, expires_after: ExpiresAfter | None) -> None:
        if expires_after is not None and self._endpoint.config.provider == "azure":
            raise InvalidArgumentError(
                "Azure's Uploads API takes no expires_after (a file larger than "
                "upload_threshold goes through it): leave it out, or upload a smaller file"
            )

    # --- a large file, in Parts --------------------------------------------------------------

    def _large_upload(
        self,
        source: UploadSource,
        *,
        filename: str,
        purpose: str,
        mime_type: str,
        params: FileParameters,
        find_file: FindFile,
    ) -> LargeUpload:
        """A large upload of ``source`` through this API; ``run()`` sends it.

        Raises:
            InvalidArgumentError: a plan that cannot be (too many Parts), or ``resume`` for a
                source that is not a path.
        """
        assert source.size is not None
        part_size = params.part_size or DEFAULT_PART_SIZE
        plan = plan_parts(source.size, part_size)
        self._check_expiry_allowed(params.expires_after)
        journal = None
        if params.resume:
            if source.kind is not SourceKind.PATH:
                raise InvalidArgumentError(
                    "resume needs the file as a path: only a path can be read again by a later run"
                )
            journal = _journal_path(params.resume, self._endpoint, source, filename, purpose)
        return LargeUpload(
            transport=self._transport,
            endpoint=self._endpoint,
            source=source,
            filename=filename,
            purpose=purpose,
            mime_type=mime_type,
            params=params,
            size=source.size,
            part_size=part_size,
            plan=plan,
            journal_path=journal,
            find_file=find_file,
        )


def _journal_path(
    resume: bool | str | os.PathLike[str],
    endpoint: Endpoint,
    source: UploadSource,
    filename: str,
    purpose: str,
) -> pathlib.Path:
    if isinstance(resume, bool):
        identity = (repr(endpoint), os.path.abspath(source.value), filename, purpose)
        return journals.default_path(*identity)
    return pathlib.Path(os.fspath(resume))


@attrs.define
class _Progress:
    """The bytes sent across all Parts, told to the caller's ``on_progress``."""

    callback: ProgressCallback | None
    total: int
    done: int = 0
    """Bytes of the Parts already acknowledged."""
    sending: dict[int, int] = attrs.Factory(dict)
    """Bytes sent so far of each Part in flight (a retried Part starts again from 0)."""

    def report(self) -> None:
        if self.callback is not None:
            report(self.callback, self.done + sum(self.sending.values()), self.total)

    def of_part(self, number: int) -> ProgressCallback:
        def report(sent: int, _total: int | None) -> None:
            self.sending[number] = sent
            self.report()

        return report

    def part_done(self, number: int, length: int) -> None:
        self.sending.pop(number, None)
        self.done += length
        self.report()


@attrs.define
class LargeUpload:
    """One large file sent through the Uploads API; ``run`` does it, once."""

    transport: Transport
    endpoint: Endpoint
    source: UploadSource
    filename: str
    purpose: str
    mime_type: str
    params: FileParameters
    size: int
    """The source's size."""
    part_size: int
    plan: tuple[PartSpan, ...]
    journal_path: pathlib.Path | None
    find_file: FindFile

    async def run(self) -> Reply[OpenAIFile]:
        """Creates the Upload (or takes up the journal's), sends the missing Parts, completes.

        Returns:
            The file made, with the headers of the ``complete`` that made it.

        Raises:
            AIKitError: the upload failed; the Upload was cancelled, unless a journal keeps it.
        """
        loop = asyncio.get_running_loop()
        mtime_ns = 0
        journal = None
        if self.journal_path is not None:
            mtime_ns = (await loop.run_in_executor(None, os.stat, self.source.value)).st_mtime_ns
            journal = await self._take_up_journal(mtime_ns)
        md5: asyncio.Future[str] | None = None
        if self.source.kind is SourceKind.FILE:
            # NOTE: the caller's file object is read by one reader at a time: hashed first.
            md5 = loop.create_future()
            md5.set_result(await md5_of(self.source))
        resumed = journal is not None
        if journal is None:
            journal = await self._start(mtime_ns)
        else:
            logger.info("resuming upload %s: %d of %d Parts done", journal.upload_id,
                        len(journal.parts), len(self.plan))  # fmt: skip
        if md5 is None:
            md5 = asyncio.ensure_future(md5_of(self.source))
        try:
            try:
                journal = await self._send_parts(journal, md5)
            except APIStatusError as error:
                # A journal's Upload the server no longer takes Parts for (cancelled, expired,
                # or forgotten): the journal is of no use; start over, once.
                if not resumed or error.status_code not in (400, 404):
                    raise
                logger.info("Upload %s refused its Parts (%s): starting over",
                            journal.upload_id, error.message)  # fmt: skip
                journal = await self._start(mtime_ns)
                journal = await self._send_parts(journal, md5)
            reply = await self._complete(journal, await md5)
        except BaseException:
            if not md5.done():
                md5.cancel()
            if self.journal_path is None:
                await self._abandon(journal.upload_id)
            raise
        if self.journal_path is not None:
            await loop.run_in_executor(None, journals.remove, self.journal_path)
        return reply

    async def _start(self, mtime_ns: int) -> journals.Journal:
        """A new Upload, and its journal (kept on disk if the upload is resumable)."""
        upload = await self._create()
        journal = journals.Journal(
            upload_id=upload.id,
            created_at=upload.created_at,
            expires_at=upload.expires_at,
            size=self.size,
            mtime_ns=mtime_ns,
            part_size=self.part_size,
        )
        await self._save(journal)
        return journal

    async def _take_up_journal(self, mtime_ns: int) -> journals.Journal | None:
        """The journal of an earlier run of this upload, if it can still be used."""
        assert self.journal_path is not None
        loop = asyncio.get_running_loop()
        journal = await loop.run_in_executor(None, journals.load, self.journal_path)
        if journal is None:
            return None
        if (
            journal.matches(self.size, mtime_ns, self.part_size)
            and journal.expires_at > time.time() + EXPIRY_MARGIN
        ):
            return journal
        logger.info("the journal of upload %s no longer fits (source changed, or the Upload "
                    "expires): starting over", journal.upload_id)  # fmt: skip
        await self._abandon(journal.upload_id)
        await loop.run_in_executor(None, journals.remove, self.journal_path)
        return None

    async def _create(self) -> Upload:
        spec = self.endpoint.create_upload(
            filename=self.filename,
            purpose=self.purpose,
            size=self.size,
            mime_type=self.mime_type,
            expires_after=self.params.expires_after,
        )
        reply: Reply[Upload] = await self.transport.send(spec, self.params, _UPLOAD)
        return reply.value

    async def _send_parts(
        self, journal: journals.Journal, md5: asyncio.Future[str]
    ) -> journals.Journal:
        """Sends the Parts the journal lacks, ``max_concurrency`` at once; returns the journal
        with every Part done."""
        done = {part.number for part in journal.parts}
        todo = collections.deque(span for span in self.plan if span.number not in done)
        progress = _Progress(self.params.on_progress, self.size)
        progress.done = sum(span.length for span in self.plan if span.number in done)
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
                    journal = journal.with_part(journals.DonePart(span.number, part.id))
                    await self._save(journal)

        workers = min(self._concurrency(), len(todo)) or 1
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker())
                # NOTE: a failed MD5 pass (the source changed) ends the upload too.
                group.create_task(_wait_quietly(md5))
        except BaseExceptionGroup as failures:
            # NOTE: the call fails as its first Part did (the others were cancelled for it).
            raise _first_failure(failures) from None
        return journal

    def _concurrency(self) -> int:
        if self.source.kind is SourceKind.FILE:
            # NOTE: one file object, one position: its Parts are read one after another.
            return 1
        return self.params.max_concurrency or DEFAULT_MAX_CONCURRENCY

    async def _add_part(self, upload_id: str, span: PartSpan, progress: _Progress) -> UploadPart:
        body = part_form(self.source, span, self.filename)
        spec = self.endpoint.add_upload_part(upload_id, body)
        reply: Reply[UploadPart] = await self.transport.send(
            spec, self.params, _PART, on_progress=progress.of_part(span.number)
        )
        return reply.value

    async def _complete(self, journal: journals.Journal, md5: str) -> Reply[OpenAIFile]:
        part_ids = [part.id for part in sorted(journal.parts, key=lambda part: part.number)]
        spec = self.endpoint.complete_upload(journal.upload_id, part_ids, md5)
        size = self.size
        since = float(journal.created_at)

        async def find(started: float) -> Reply[Upload] | None:
            found = await self.find_file(self.filename, size, self.purpose, self.params, since)
            if found is None:
                return None
            upload = Upload(id=journal.upload_id, bytes=size, filename=self.filename,
                            purpose=self.purpose, status="completed", file=found.value)  # fmt: skip
            return Reply(upload, found.headers)

        recover: Recover[Upload] = find
        try:
            reply: Reply[Upload] = await self.transport.send(
                spec, self.params, _UPLOAD, recover=recover
            )
        except APIStatusError as error:
            # A journal can outlive the answer to its complete (a crash right after it): the
            # server then refuses to complete again, and has the file.
            if not journal.parts or error.status_code >= 500:
                raise
            found_upload = await find(time.time())
            if found_upload is None:
                raise
            reply = found_upload
        file = reply.value.file
        if file is None:
            raise AIKitError(f"the server completed Upload {journal.upload_id} but named no file")
        return Reply(file, reply.headers)

    async def _save(self, journal: journals.Journal) -> None:
        if self.journal_path is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, journals.save, self.journal_path, journal)

    async def _abandon(self, upload_id: str) -> None:
        """Cancels an Upload no one will complete, so the server drops its Parts; best effort,
        bounded, and done even while the call itself is being cancelled."""
        spec = self.endpoint.cancel_upload(upload_id)
        params = Parameters(timeout=CANCEL_TIMEOUT, max_retries=1)
        cancelling = asyncio.ensure_future(self.transport.send(spec, params, _UPLOAD))
        try:
            await asyncio.shield(cancelling)
        except asyncio.CancelledError:
            # NOTE: cancelled while cancelling: the cancel request goes on; its outcome is moot.
            forget(cancelling)
            raise
        except AIKitError as error:
            logger.warning("could not cancel Upload %s: %s", upload_id, error)


def _first_failure(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error a group of Parts failed with: the first that is not a cancellation."""
    leaves: list[BaseException] = []
    todo: list[BaseException] = [group]
    while todo:
        error = todo.pop(0)
        if isinstance(error, BaseExceptionGroup):
            todo = list(error.exceptions) + todo
        else:
            leaves.append(error)
    real = [e for e in leaves if not isinstance(e, asyncio.CancelledError)]
    return (real or leaves)[0]


async def _wait_quietly(future: asyncio.Future[str]) -> None:
    # NOTE: shielded: when the Parts fail and the group cancels this wait, the MD5 pass goes on
    # (a resumed upload that starts over still needs it; the call cancels it if it fails).
    await asyncio.shield(future)
