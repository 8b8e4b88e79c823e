"""AsyncFilesAPI: the operations of the Files API, each checked at once and then run as a task."""

from __future__ import annotations

import asyncio
import os
import pathlib
from collections.abc import AsyncIterator, Coroutine, Mapping
from typing import Any

from ._calls import CallTracker
from ._config import check_seconds
from ._exceptions import (
    APITimeoutError,
    FileProcessingError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
)
from ._io.sinks import bytes_sink, file_sink, json_sink
from ._limits import SIMPLE_UPLOAD_LIMIT
from ._models import (
    ContentResult,
    DownloadResult,
    FileDeleted,
    FileDeletedResult,
    FileList,
    FileListResult,
    FileResult,
    OpenAIFile,
)
from ._params import (
    DownloadParameters,
    FileListParameters,
    FileParameters,
    Parameters,
    merge,
)
from ._protocol.multipart import build_form, form_fields, guess_content_type
from ._protocol.pagination import next_page
from ._protocol.requests import Endpoint, FormBody, check_file_id
from ._protocol.responses import Reply
from ._protocol.sources import UploadFile, describe_source
from ._transport import Transport

#: The longest pause between two polls of ``wait_for_processing``, however long it has waited.
MAX_POLL_INTERVAL = 30.0

ParametersArg = Parameters | Mapping[str, Any] | None


#: The sinks of the JSON answers, made once.
_FILE = json_sink(OpenAIFile)
_FILE_LIST = json_sink(FileList)
_FILE_DELETED = json_sink(FileDeleted)


def _check_purpose(purpose: object) -> None:
    if not isinstance(purpose, str):
        raise InvalidArgumentTypeError(f"purpose must be a string, not {type(purpose).__name__}")
    if not purpose:
        raise InvalidArgumentError("purpose must not be empty")


def _check_destination(destination: object) -> pathlib.Path:
    if not isinstance(destination, str | os.PathLike):
        raise InvalidArgumentTypeError(
            f"destination must be a path (str or os.PathLike), not {type(destination).__name__}"
        )
    if not os.fsdecode(destination):
        raise InvalidArgumentError("destination: the path is empty")
    path = pathlib.Path(os.fsdecode(destination))
    if path.is_dir():
        raise InvalidArgumentError(f"destination: {str(path)!r} is a directory; name the file")
    if not path.parent.is_dir():
        raise InvalidArgumentError(
            f"destination: the directory {str(path.parent)!r} does not exist"
        )
    return path


class AsyncFilesAPI:
    """The Files API: upload, list, retrieve, delete and download files.

    Each method checks its arguments at once (a bad one raises ``InvalidArgumentError`` before
    any I/O, and no callback fires), then returns an ``asyncio.Task``: await it for the value,
    or let the callbacks of ``parameters`` receive the result. The API keeps every task
    referenced until it has ended and its callbacks have run.
    """

    def __init__(self, transport: Transport, endpoint: Endpoint, tracker: CallTracker) -> None:
        self._transport = transport
        self._endpoint = endpoint
        self._tracker = tracker

    def __repr__(self) -> str:
        return f"AsyncFilesAPI({self._endpoint!r})"

    def create(
        self, file: UploadFile, purpose: str, parameters: ParametersArg = None, **options: Any
    ) -> asyncio.Task[OpenAIFile]:
        """Uploads a file (``POST /files``).

        A path is streamed from disk with an exact ``Content-Length`` and re-read from its start
        on a retry; a blob is sent from memory; a binary file object is read from its current
        position (and retried only if it is seekable); an async iterable of bytes is sent with
        chunked encoding and never sent twice. A source that cannot be replayed is retried
        only when the attempt failed before any of it was read (say, the connection failed).

        Args:
            file: a path, bytes-like, a binary file object, or an async iterable of bytes.
            purpose: what the file is for (``assistants``, ``batch``, ``fine-tune``, ...).
            parameters: a ``FileParameters`` (or a mapping of its fields).
            **options: fields of ``FileParameters``, overriding ``parameters``.

        Returns:
            A task whose value is the created ``OpenAIFile``.

        Raises:
            InvalidArgumentError: a bad argument, or a file over 512 MiB (the Uploads API that
                such files need is not supported yet).
        """
        params = merge(FileParameters, parameters, options)
        _check_purpose(purpose)
        source = describe_source(file)
        if source.size is not None and source.size > SIMPLE_UPLOAD_LIMIT:
            raise InvalidArgumentError(
                f"the file holds {source.size} bytes, over the {SIMPLE_UPLOAD_LIMIT}-byte limit "
                "of POST /files; files this large need the Uploads API, not supported yet"
            )
        filename = params.filename or source.filename
        form = build_form(
            form_fields(purpose, params.expires_after),
            filename=filename,
            content_type=params.content_type or guess_content_type(filename),
        )
        spec = self._endpoint.create_file(FormBody(form, source))
        return self._tracker.start(
            self._transport.send(spec, params, _FILE, on_progress=params.on_progress),
            params,
            FileResult,
            "create",
        )

    def retrieve(
        self, file_id: str, parameters: ParametersArg = None, **options: Any
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
        self, parameters: FileListParameters | Mapping[str, Any] | None = None, **options: Any
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
        self, parameters: FileListParameters | Mapping[str, Any] | None = None, **options: Any
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
        page_params: FileListParameters | None = params
        while page_params is not None:
            self._tracker.check_open()
            reply = await self._transport.send(
                self._endpoint.list_files(page_params), page_params, _FILE_LIST
            )
            page = reply.value
            for file in page.data:
                yield file
            page_params = next_page(page_params, page)

    def delete(
        self, file_id: str, parameters: ParametersArg = None, **options: Any
    ) -> asyncio.Task[FileDeleted]:
        """Deletes a file (``DELETE /files/{file_id}``).

        Returns:
            A task whose value is the ``FileDeleted`` answer.

        Raises:
            InvalidArgumentError: a bad ``file_id`` or parameter.
        """
        params = merge(Parameters, parameters, options)
        check_file_id(file_id)
        return self._tracker.start(
            self._transport.send(self._endpoint.delete_file(file_id), params, _FILE_DELETED),
            params,
            FileDeletedResult,
            "delete",
        )

    def content(
        self, file_id: str, parameters: ParametersArg = None, **options: Any
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

    def download(
        self,
        file_id: str,
        destination: str | os.PathLike[str],
        parameters: DownloadParameters | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> asyncio.Task[pathlib.Path]:
        """Streams a file's content to ``destination``, with constant memory.

        The bytes go to a temporary file beside ``destination``, renamed to it once complete: a
        failure leaves nothing half-written, and an existing file is replaced only by a complete
        one.

        Args:
            file_id: the file to download.
            destination: the path to write; its directory must exist.
            parameters: a ``DownloadParameters`` (``on_progress`` and the common options).
            **options: the same fields as keywords.

        Returns:
            A task whose value is ``destination`` as a ``pathlib.Path``.

        Raises:
            InvalidArgumentError: a bad ``file_id``, a destination that is a directory or whose
                directory is missing, or a bad parameter.
        """
        params = merge(DownloadParameters, parameters, options)
        check_file_id(file_id)
        path = _check_destination(destination)
        spec = self._endpoint.file_content(file_id)
        return self._tracker.start(
            self._transport.send(spec, params, file_sink(path, params.on_progress)),
            params,
            DownloadResult,
            "download",
        )

    def wait_for_processing(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        *,
        poll_interval: float = 1.0,
        max_wait: float = 1800.0,
        **options: Any,
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
