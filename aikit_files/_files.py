"""AsyncFilesAPI: the operations of the Files API, each checked at once and then run as a task."""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import urllib.parse
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping, Sequence
from typing import IO, Any, TypeVar, Unpack, overload

from ._calls import CallTracker
from ._checks import check_file
from ._config import check_seconds
from ._exceptions import (
    APITimeoutError,
    FileProcessingError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    InvalidFileError,
)
from ._io.sinks import NAME_MAX, bytes_sink, file_sink, json_sink, stream_sink
from ._large_upload import LargeUpload
from ._limits import purpose_limit_error
from ._many import FileCallback, ManySource, plan_batch
from ._models import FileDeleted, FileList, OpenAIFile
from ._params import (
    BlockingFileListOptions,
    DownloadOptions,
    DownloadParameters,
    FileListOptions,
    FileListParameters,
    FileOptions,
    FileParameters,
    Options,
    Parameters,
    ParametersArg,
    check_line,
    forbid_content_type,
    merge,
)
from ._protocol.multipart import build_form, form_fields, guess_content_type
from ._protocol.pagination import Pages
from ._protocol.plan import goes_in_parts
from ._protocol.requests import Endpoint, FormBody, check_file_id
from ._protocol.responses import Reply
from ._protocol.sources import SourceKind, UploadFile, UploadSource, describe_source
from ._recovery import Recovery, SentBytes
from ._results import (
    ContentResult,
    DownloadResult,
    FileDeletedResult,
    FileListResult,
    FileResult,
    ManyResult,
)
from ._transport import Recover, Transport

T = TypeVar("T")

#: The longest pause between two polls of ``wait_for_processing``, however long it has waited.
MAX_POLL_INTERVAL = 30.0


logger = logging.getLogger("aikit_files")

#: The sinks of the JSON answers, made once.
_FILE = json_sink(OpenAIFile)
_FILE_LIST = json_sink(FileList)
_FILE_DELETED = json_sink(FileDeleted)


def _check_purpose(purpose: object) -> None:
    if not isinstance(purpose, str):
        raise InvalidArgumentTypeError(f"purpose must be a string, not {type(purpose).__name__}")
    if not purpose:
        raise InvalidArgumentError("purpose must not be empty")


def _check_url(url: object) -> None:
    if not isinstance(url, str):
        raise InvalidArgumentTypeError(f"content_url must be a string, not {type(url).__name__}")
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise InvalidArgumentError(f"content_url is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        # NOTE: the URL is not repeated: its query may hold a secret (a SAS token).
        raise InvalidArgumentError("content_url must be an http:// or https:// URL with a host")


def _check_destination(destination: object) -> pathlib.Path:
    if not isinstance(destination, str | os.PathLike):
        raise InvalidArgumentTypeError(
            f"destination must be a path (str or os.PathLike), not {type(destination).__name__}"
        )
    text = os.fsdecode(destination)
    if not text:
        raise InvalidArgumentError("destination: the path is empty")
    if "\0" in text:
        raise InvalidArgumentError(f"destination: the path holds a NUL character: {text!r}")
    path = pathlib.Path(text)
    if len(os.fsencode(path.name)) > NAME_MAX:
        raise InvalidArgumentError(
            f"destination: the file name is longer than {NAME_MAX} bytes: {path.name[:40]!r}..."
        )
    if path.is_dir():
        raise InvalidArgumentError(f"destination: {str(path)!r} is a directory; name the file")
    if not path.parent.is_dir():
        raise InvalidArgumentError(
            f"destination: the directory {str(path.parent)!r} does not exist"
        )
    return path


def _checked_first(
    params: FileParameters,
    source: UploadSource,
    purpose: str,
    filename: str,
    making: Coroutine[Any, Any, T],
) -> Coroutine[Any, Any, T]:
    """``making``, preceded by ``check_file`` of the source when ``params.check`` asks for it."""
    if not params.check:
        return making
    return _check_then(source, purpose, filename, making)


async def _check_then(
    source: UploadSource, purpose: str, filename: str, making: Coroutine[Any, Any, T]
) -> T:
    """Checks the source off the loop's thread, then makes the upload; nothing is sent (and
    ``making`` never starts) when the check fails."""
    try:
        check = await asyncio.to_thread(check_file, source.value, purpose, filename=filename)
        if not check.ok:
            raise InvalidFileError(check, filename)
    except BaseException:
        making.close()
        raise
    return await making


class AsyncFilesAPI:
    """The Files API: upload, list, retrieve, delete and download files.

    Each method checks its arguments at once (a bad one raises ``InvalidArgumentError`` before
    any I/O, and no callback fires), then returns an ``asyncio.Task``: await it for the value,
    or let the callbacks of ``parameters`` receive the result. The API keeps every task
    referenced until it has ended and its callbacks have run.
    """

    def __init__(
        self,
        transport: Transport,
        endpoint: Endpoint,
        tracker: CallTracker,
        recovery: Recovery,
    ) -> None:
        self._transport = transport
        self._endpoint = endpoint
        self._tracker = tracker
        self._recovery = recovery

    def __repr__(self) -> str:
        return f"AsyncFilesAPI({self._endpoint!r})"

    def create(
        self,
        file: UploadFile,
        purpose: str,
        parameters: ParametersArg = None,
        **options: Unpack[FileOptions],
    ) -> asyncio.Task[OpenAIFile]:
        """Uploads a file (``POST /files``, or the Uploads API for a large one).

        A path is streamed from disk with an exact ``Content-Length`` and re-read from its start
        on a retry; a blob is sent from memory; a binary file object is read from its current
        position (and retried only if it is seekable); an async iterable of bytes is sent with
        chunked encoding and never sent twice. A source that cannot be replayed is retried
        only when the attempt failed before any of it was read (say, the connection failed).
        After an attempt sent whole whose answer was lost, the server is asked for the file
        before the upload is sent again: one call never makes two files.

        A source of known size larger than ``upload_threshold`` (512 MiB) goes through the
        Uploads API: Parts of ``part_size`` bytes from byte ranges of the source,
        ``max_concurrency`` at once, the file's MD5 on complete, the Upload cancelled if the
        call fails or is cancelled (and a file that a cancelled ``complete`` made anyway
        deleted); with ``resume``, a later run of the same call sends only the Parts not yet
        sent, and a journal that no longer fits is discarded and the upload starts over. Two
        runs never use one journal at once: the second fails with ``LocalIOError``.

        Args:
            file: a path, bytes-like, a binary file object, or an async iterable of bytes.
            purpose: what the file is for (``assistants``, ``batch``, ``fine-tune``, ...).
            parameters: a ``FileParameters`` (or a mapping of its fields).
            **options: fields of ``FileParameters``, overriding ``parameters``.

        Returns:
            A task whose value is the created ``OpenAIFile``.

        Raises:
            InvalidArgumentError: a bad argument, or a file over the API's limit (8 GiB; 9 GiB
                on Azure) or over its purpose's (``batch``: 200 MiB).
        """
        params = merge(FileParameters, parameters, options)
        forbid_content_type(params)
        _check_purpose(purpose)
        source = describe_source(file, self._endpoint.config.upload_limit)
        if source.size is not None and (too_large := purpose_limit_error(purpose, source.size)):
            raise InvalidArgumentError(too_large)
        if params.check and source.kind not in (SourceKind.PATH, SourceKind.BLOB):
            raise InvalidArgumentError(
                f"check=True reads the file before sending it: give a path or bytes, "
                f"not {source.kind.value}"
            )
        filename = params.filename or source.filename
        content_type = params.content_type or guess_content_type(filename)
        if goes_in_parts(source.size, params.upload_threshold):
            large = LargeUpload.prepare(
                self._transport,
                self._endpoint,
                source,
                filename=filename,
                purpose=purpose,
                mime_type=content_type,
                params=params,
                find_file=self._recovery.find_file,
            )
            making = _checked_first(params, source, purpose, filename, large.run())
            claimed = self._recovery.claimed(making)
            return self._tracker.start(claimed, params, FileResult, "create")
        form = build_form(
            form_fields(purpose, params.expires_after),
            filename=filename,
            content_type=content_type,
        )
        spec = self._endpoint.create_file(FormBody(form, source))
        on_progress = params.on_progress
        recover: Recover[OpenAIFile]
        if source.size is not None:
            recover = self._recovery.for_create(filename, source.size, purpose, params)
        else:
            # NOTE: a stream's size is known once it was sent.
            counted = SentBytes(on_progress)
            on_progress = counted
            recover = self._recovery.for_stream(filename, purpose, params, counted)
        send = self._transport.send(spec, params, _FILE, on_progress=on_progress, recover=recover)
        making = _checked_first(params, source, purpose, filename, send)
        return self._tracker.start(self._recovery.claimed(making), params, FileResult, "create")

    def create_many(
        self,
        sources: Iterable[ManySource] | str | os.PathLike[str],
        purpose: str,
        parameters: ParametersArg = None,
        *,
        concurrency: int = 8,
        include: Sequence[str] | str = ("*",),
        exclude: Sequence[str] | str = (),
        hidden: bool = False,
        skip_existing: bool = False,
        manifest: str | os.PathLike[str] | None = None,
        on_file: FileCallback | None = None,
        **options: Unpack[FileOptions],
    ) -> asyncio.Task[ManyResult]:
        """Uploads many files, at most ``concurrency`` at once, each with ``create``.

        A directory is walked without following a link that leaves it; hidden files and
        folders (a name starting with ``.``) are left out unless ``hidden``; its files go in
        sorted path order, those whose path relative to it matches a pattern of ``include``
        and none of ``exclude`` (``fnmatch`` patterns, where ``*`` also matches ``/``). Every
        option of ``create`` applies to each file (a large one goes through the Uploads API);
        ``on_progress`` reports the bytes of the whole batch. A file's failure never stops the
        others. A 429 (or a ``Retry-After``) lowers the number of files in flight and waits as
        asked; a run of successes raises it again, one at a time, up to ``concurrency``;
        retries stay per file (``max_retries`` each). Cancelling the task cancels the files in
        flight (their Uploads cancelled) and reports the rest ``not_started``.

        ``skip_existing`` lists the purpose's files once and skips a source whose filename and
        size match one of them. ``manifest`` keeps, per source, its path, size, mtime and the
        file id made (or, for a large file, a resume journal for the Upload under way): a rerun
        of the same call checks with one listing that those files still exist, skips them,
        resumes the Uploads under way, and sends the rest; a source whose size or mtime changed
        is sent again. A source recorded as being sent when a run was killed is looked for in
        that listing (same filename and size, made since) rather than sent twice. The manifest
        is written atomically as the batch goes (one line appended per event, the file
        replaced whole when a run begins and ends) and never holds the API key.

        Args:
            sources: paths, directories, and ``(source, filename)`` pairs (a path, a blob or a
                binary file object, and the name to give it).
            purpose: what the files are for.
            parameters: a ``FileParameters`` (or a mapping of its fields) for every file.
            concurrency: the most files in flight at once.
            include: glob patterns a directory's file must match (one of them).
            exclude: glob patterns a directory's file must not match.
            hidden: whether a directory's hidden files and folders go too.
            skip_existing: skip a source whose filename and size match a file of the purpose.
            manifest: the path of this batch's journal, for reruns.
            on_file: called with each file's ``FileResult`` as that file ends.
            **options: fields of ``FileParameters``, overriding ``parameters``.

        Returns:
            A task whose value is the ``ManyResult``: a ``FileResult`` per file, in order, with
            its ``source`` and ``outcome``; it is also what the callbacks receive.

        Raises:
            InvalidArgumentError: a bad argument, or a source that cannot be sent (a missing
                path, a blob without a filename, a file over the API's limit).
        """
        params = merge(FileParameters, parameters, options)
        forbid_content_type(params)
        _check_purpose(purpose)
        self._tracker.check_open()
        batch = plan_batch(
            sources,
            purpose,
            params,
            concurrency=concurrency,
            include=include,
            exclude=exclude,
            hidden=hidden,
            skip_existing=skip_existing,
            manifest=manifest,
            on_file=on_file,
            create=self.create,
            iterate=self.iterate,
            upload_limit=self._endpoint.config.upload_limit,
        )
        return self._tracker.start(
            batch.run(), params, ManyResult, "create_many", cancelled_result=batch.cancelled_result
        )

    def retrieve(
        self, file_id: str, parameters: ParametersArg = None, **options: Unpack[Options]
    ) -> asyncio.Task[OpenAIFile]:
        """Gets a file's metadata (``GET /files/{file_id}``).

        Returns:
            A task whose value is the ``OpenAIFile``.

        Raises:
            InvalidArgumentError: an empty ``file_id``, or one holding ``/``, ``..`` or a control
                character; a bad parameter.
        """
        params = merge(Parameters, parameters, options)
        check_file_id(file_id)
        return self._tracker.start(self._retrieve(file_id, params), params, FileResult, "retrieve")

    def _retrieve(self, file_id: str, params: Parameters) -> Coroutine[Any, Any, Reply[OpenAIFile]]:
        return self._transport.send(self._endpoint.retrieve_file(file_id), params, _FILE)

    def list(
        self,
        parameters: FileListParameters | Mapping[str, Any] | None = None,
        **options: Unpack[FileListOptions],
    ) -> asyncio.Task[FileList]:
        """Gets one page of files (``GET /files``).

        Args:
            parameters: a ``FileListParameters``: ``purpose``, ``limit`` (1 to 10000), ``order``
                (``asc`` or ``desc``), ``after`` (the cursor).
            **options: the same fields as keywords.

        Returns:
            A task whose value is the ``FileList``, with ``first_id``, ``last_id`` and
            ``has_more``.
        """
        params = merge(FileListParameters, parameters, options)
        return self._tracker.start(
            self._transport.send(self._endpoint.list_files(params), params, _FILE_LIST),
            params,
            FileListResult,
            "list",
        )

    def iterate(
        self,
        parameters: FileListParameters | Mapping[str, Any] | None = None,
        **options: Unpack[BlockingFileListOptions],
    ) -> AsyncIterator[OpenAIFile]:
        """Iterates over every file, fetching each page only when the previous one is used up.

        Takes the parameters of ``list`` but no callbacks: it returns an async iterator, not a
        task.

        Raises:
            InvalidArgumentError: a bad parameter, or a callback.
        """
        params = merge(FileListParameters, parameters, options)
        if params.has_callbacks:
            raise InvalidArgumentError(
                "iterate takes no callbacks (it returns an async iterator); use list for a task"
            )
        self._tracker.check_open()
        return self._iterate(params)

    async def _iterate(self, params: FileListParameters) -> AsyncIterator[OpenAIFile]:
        pages = Pages(params)
        while (page_params := pages.params) is not None:
            self._tracker.check_open()
            reply = await self._transport.send(
                self._endpoint.list_files(page_params), page_params, _FILE_LIST
            )
            # NOTE: checked before its files are given: a page that comes back around is
            # not given twice.
            pages.advance(reply.value)
            for file in reply.value.data:
                yield file

    def delete(
        self, file_id: str, parameters: ParametersArg = None, **options: Unpack[Options]
    ) -> asyncio.Task[FileDeleted]:
        """Deletes a file (``DELETE /files/{file_id}``).

        Returns:
            A task whose value is the ``FileDeleted`` answer.

        Raises:
            InvalidArgumentError: a bad ``file_id`` or parameter.
        """
        params = merge(Parameters, parameters, options)
        check_file_id(file_id)
        recover = self._recovery.for_delete(file_id, params)
        return self._tracker.start(
            self._transport.send(
                self._endpoint.delete_file(file_id), params, _FILE_DELETED, recover=recover
            ),
            params,
            FileDeletedResult,
            "delete",
        )

    def content(
        self, file_id: str, parameters: ParametersArg = None, **options: Unpack[Options]
    ) -> asyncio.Task[bytes]:
        """Gets a file's content, whole, in memory (``GET /files/{file_id}/content``).

        For a large file, ``download`` streams it to disk instead.

        Returns:
            A task whose value is the content.

        Raises:
            InvalidArgumentError: a bad ``file_id`` or parameter.
        """
        params = merge(Parameters, parameters, options)
        check_file_id(file_id)
        return self._tracker.start(
            self._transport.send(self._endpoint.file_content(file_id), params, bytes_sink),
            params,
            ContentResult,
            "content",
        )

    @overload
    def download(
        self,
        file_id: str,
        destination: str | os.PathLike[str],
        parameters: DownloadParameters | Mapping[str, Any] | None = None,
        **options: Unpack[DownloadOptions],
    ) -> asyncio.Task[pathlib.Path]: ...
    @overload
    def download(
        self,
        file_id: str,
        destination: IO[bytes],
        parameters: DownloadParameters | Mapping[str, Any] | None = None,
        **options: Unpack[DownloadOptions],
    ) -> asyncio.Task[None]: ...
    def download(
        self,
        file_id: str,
        destination: str | os.PathLike[str] | IO[bytes],
        parameters: DownloadParameters | Mapping[str, Any] | None = None,
        **options: Unpack[DownloadOptions],
    ) -> asyncio.Task[pathlib.Path] | asyncio.Task[None]:
        """Streams a file's content to ``destination``, with constant memory.

        To a path, the bytes go to a temporary file beside ``destination``, renamed to it once
        complete: a failure leaves nothing half-written, and an existing file is replaced only
        by a complete one. To a binary file object (``sys.stdout.buffer``, a pipe), they are
        written as they arrive, and the object is left open; a connection that breaks once
        bytes were written ends the call, as they cannot be taken back.

        Args:
            file_id: the file to download.
            destination: the path to write (its directory must exist), or a writable binary
                file object.
            parameters: a ``DownloadParameters`` (``on_progress`` and the common options).
            **options: the same fields as keywords.

        Returns:
            A task whose value is ``destination`` as a ``pathlib.Path``; None for a file object.

        Raises:
            InvalidArgumentError: a bad ``file_id``, a destination that is a directory or whose
                directory is missing, or a bad parameter.
        """
        params = merge(DownloadParameters, parameters, options)
        check_file_id(file_id)
        spec = self._endpoint.file_content(file_id)
        if not isinstance(destination, str | os.PathLike) and callable(
            getattr(destination, "write", None)
        ):
            return self._tracker.start(
                self._transport.send(spec, params, stream_sink(destination, params.on_progress)),
                params,
                DownloadResult,
                "download",
            )
        path = _check_destination(destination)
        return self._tracker.start(
            self._transport.send(spec, params, file_sink(path, params.on_progress)),
            params,
            DownloadResult,
            "download",
        )

    def import_url(
        self,
        content_url: str,
        filename: str,
        purpose: str,
        parameters: ParametersArg = None,
        **options: Unpack[Options],
    ) -> asyncio.Task[OpenAIFile]:
        """Has Azure fetch a file from a URL (Azure's ``POST /files/import``).

        The file is ``pending`` until the server has fetched and processed it: follow it with
        ``wait_for_processing``.

        Args:
            content_url: where the server gets the content (an http or https URL, such as a
                blob's SAS URL).
            filename: the file's name (a ``.jsonl`` file for ``fine-tune`` and ``batch``).
            purpose: what the file is for.
            parameters: a ``Parameters`` (or a mapping of its fields).
            **options: fields of ``Parameters``, overriding ``parameters``.

        Returns:
            A task whose value is the new ``OpenAIFile``.

        Raises:
            InvalidArgumentError: a bad argument, or a client of OpenAI (the endpoint is
                Azure's only).
        """
        params = merge(Parameters, parameters, options)
        forbid_content_type(params)
        if self._endpoint.config.provider != "azure":
            raise InvalidArgumentError(
                "import_url is Azure's files/import, which OpenAI lacks: use a client made "
                "with provider='azure', or upload the file with create"
            )
        _check_url(content_url)
        _check_purpose(purpose)
        check_line("filename", filename)
        spec = self._endpoint.import_file(content_url, filename, purpose)
        recover = self._recovery.for_import(filename, purpose, params)
        send = self._transport.send(spec, params, _FILE, recover=recover)
        return self._tracker.start(self._recovery.claimed(send), params, FileResult, "import_url")

    def wait_for_processing(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        *,
        poll_interval: float = 1.0,
        max_wait: float = 1800.0,
        **options: Unpack[Options],
    ) -> asyncio.Task[OpenAIFile]:
        """Polls a file until the server has processed it.

        The pause between polls starts at ``poll_interval`` and doubles up to 30 s (or
        ``poll_interval``, if longer). Each poll is a ``retrieve`` with this call's parameters.

        Args:
            file_id: the file to watch.
            parameters: a ``Parameters`` (or a mapping of its fields).
            poll_interval: the first pause between polls, in seconds.
            max_wait: how long to wait in all, in seconds.
            **options: fields of ``Parameters``, overriding ``parameters``.

        Returns:
            A task whose value is the ``OpenAIFile`` once its status is ``processed``.

        Raises:
            InvalidArgumentError: a bad argument. The task raises ``FileProcessingError`` when
                the file ends in ``error``, and ``APITimeoutError`` after ``max_wait``.
        """
        params = merge(Parameters, parameters, options)
        check_file_id(file_id)
        interval = check_seconds("poll_interval", poll_interval)
        limit = check_seconds("max_wait", max_wait)
        return self._tracker.start(
            self._wait_for_processing(file_id, params, interval, limit),
            params,
            FileResult,
            "wait_for_processing",
        )

    async def _wait_for_processing(
        self, file_id: str, params: Parameters, poll_interval: float, max_wait: float
    ) -> Reply[OpenAIFile]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        pause = poll_interval
        while True:
            reply = await self._retrieve(file_id, params)
            file = reply.value
            if file.status == "processed":
                return reply
            if file.status == "error":
                raise FileProcessingError(
                    f"the server failed to process file {file_id}: "
                    f"{file.status_details or 'no details given'}",
                    file=file,
                    status_details=file.status_details,
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise APITimeoutError(
                    f"file {file_id} was still {file.status!r} after {max_wait} s"
                )
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, max(poll_interval, MAX_POLL_INTERVAL))
