"""AsyncFilesAPI: the operations of the Files API, each checked at once and then run as a task."""

from __future__ import annotations

import asyncio
import os
import pathlib
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping, Sequence
from typing import IO, Any, Unpack, overload

from ._calls import CallTracker
from ._config import check_seconds
from ._create import upload
from ._exceptions import InvalidArgumentError
from ._file_arguments import check_destination, check_purpose, check_url
from ._file_requests import FILE_DELETED_SINK, FILE_LIST_SINK, FILE_SINK, FileRequests
from ._io.sinks import bytes_sink, file_sink, stream_sink
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
from ._processing import until_processed
from ._protocol.requests import Endpoint, check_file_id
from ._protocol.responses import Reply
from ._protocol.sources import UploadFile
from ._recovery import Recovery
from ._results import (
    ContentResult,
    DownloadResult,
    FileDeletedResult,
    FileListResult,
    FileResult,
    ManyResult,
)
from ._transport import Transport


class AsyncFilesAPI(FileRequests):
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
        check_purpose(purpose)
        return self._tracker.start(self._made(file, purpose, params), params, FileResult, "create")

    def _made(
        self, file: UploadFile, purpose: str, params: FileParameters, filename: str | None = None
    ) -> Coroutine[Any, Any, Reply[OpenAIFile]]:
        """The upload of ``create``, its source checked, not started: the file it makes is
        claimed as this client's. ``create_many`` runs one for each file, named ``filename``."""
        making = upload(
            self._transport, self._endpoint, self._recovery, file, purpose, params, filename
        )
        return self._recovery.claimed(making)

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
        check_purpose(purpose)
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
            make=self._made,
            time_limit=self._transport.total,
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
        spec = self._endpoint.list_files(params)
        return self._call(spec, params, FILE_LIST_SINK, FileListResult, "list")

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
        spec = self._endpoint.delete_file(file_id)
        return self._call(
            spec, params, FILE_DELETED_SINK, FileDeletedResult, "delete", recover=recover
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
        spec = self._endpoint.file_content(file_id)
        return self._call(spec, params, bytes_sink, ContentResult, "content")

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
            to_stream = stream_sink(destination, params.on_progress)
            return self._call(spec, params, to_stream, DownloadResult, "download")
        to_path = file_sink(check_destination(destination), params.on_progress)
        return self._call(spec, params, to_path, DownloadResult, "download")

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
        check_url(content_url)
        check_purpose(purpose)
        check_line("filename", filename)
        spec = self._endpoint.import_file(content_url, filename, purpose)
        recover = self._recovery.for_import(filename, purpose, params)
        send = self._transport.send(spec, params, FILE_SINK, recover=recover)
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
        polls = until_processed(lambda: self._retrieve(file_id, params), file_id, interval, limit)
        return self._tracker.start(polls, params, FileResult, "wait_for_processing")
