"""The sync twin of the Files API: each method one visible call of its async twin.

Each method passes its arguments, as they came, to its async twin, started on the client's loop
by ``Client._call`` (``aikit_files._bridge``): without callbacks it blocks and returns the value
(or raises); with any callback it returns a ``concurrent.futures.Future`` at once. Its
signature is the async twin's; two overloads tell type checkers which of the two it returns.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from typing import IO, Any, Unpack, overload

from ._bridge import SyncCalls, each_off_the_loop
from ._files import AsyncFilesAPI
from ._many import FileCallback, ManySource
from ._models import FileDeleted, FileList, OpenAIFile
from ._params import (
    BlockingDownloadOptions,
    BlockingFileListOptions,
    BlockingFileOptions,
    BlockingOptions,
    DownloadOptions,
    DownloadParameters,
    FileListOptions,
    FileListParameters,
    FileOptions,
    Options,
    ParametersArg,
)
from ._protocol.sources import UploadFile
from ._results import ManyResult


class FilesAPI:
    """The Files API for scripts: the methods of ``AsyncFilesAPI``, blocking or with a Future.

    Without callbacks a call blocks and returns the value (or raises); with any callback it
    returns a ``concurrent.futures.Future`` at once, and the callbacks run later on the client's
    callback thread, never on the event loop's thread; the Future completes once they ran.
    """

    def __init__(self, client: SyncCalls) -> None:
        # NOTE: a strong reference: ``af.Client(...).files.list()`` keeps its client alive.
        self._client = client

    def __repr__(self) -> str:
        return f"<aikit_files.FilesAPI of {self._client!r}>"

    @property
    def _api(self) -> AsyncFilesAPI:
        return self._client._async_client().files

    @overload
    def create(
        self,
        file: UploadFile,
        purpose: str,
        parameters: None = None,
        **options: Unpack[BlockingFileOptions],
    ) -> OpenAIFile: ...
    @overload
    def create(
        self,
        file: UploadFile,
        purpose: str,
        parameters: ParametersArg = None,
        **options: Unpack[FileOptions],
    ) -> OpenAIFile | Future[OpenAIFile]: ...
    def create(
        self,
        file: UploadFile,
        purpose: str,
        parameters: ParametersArg = None,
        **options: Unpack[FileOptions],
    ) -> OpenAIFile | Future[OpenAIFile]:
        """Uploads a file; see ``AsyncFilesAPI.create``."""
        return self._client._call(lambda: self._api.create(file, purpose, parameters, **options))

    @overload
    def create_many(
        self,
        sources: Iterable[ManySource] | str | os.PathLike[str],
        purpose: str,
        parameters: None = None,
        *,
        concurrency: int = 8,
        include: Sequence[str] | str = ("*",),
        exclude: Sequence[str] | str = (),
        hidden: bool = False,
        skip_existing: bool = False,
        manifest: str | os.PathLike[str] | None = None,
        on_file: FileCallback | None = None,
        **options: Unpack[BlockingFileOptions],
    ) -> ManyResult: ...
    @overload
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
    ) -> ManyResult | Future[ManyResult]: ...
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
    ) -> ManyResult | Future[ManyResult]:
        """Uploads many files at once; see ``AsyncFilesAPI.create_many``. ``on_file`` runs on
        the client's callback thread, as the other callbacks do."""
        return self._client._call(
            lambda: self._api.create_many(
                sources, purpose, parameters, concurrency=concurrency, include=include,
                exclude=exclude, hidden=hidden, skip_existing=skip_existing, manifest=manifest,
                on_file=each_off_the_loop(on_file), **options,
            )
        )  # fmt: skip

    @overload
    def retrieve(
        self,
        file_id: str,
        parameters: None = None,
        **options: Unpack[BlockingOptions],
    ) -> OpenAIFile: ...
    @overload
    def retrieve(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        **options: Unpack[Options],
    ) -> OpenAIFile | Future[OpenAIFile]: ...
    def retrieve(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        **options: Unpack[Options],
    ) -> OpenAIFile | Future[OpenAIFile]:
        """Returns a file's metadata; see ``AsyncFilesAPI.retrieve``."""
        return self._client._call(lambda: self._api.retrieve(file_id, parameters, **options))

    @overload
    def list(
        self,
        parameters: None = None,
        **options: Unpack[BlockingFileListOptions],
    ) -> FileList: ...
    @overload
    def list(
        self,
        parameters: FileListParameters | Mapping[str, Any] | None = None,
        **options: Unpack[FileListOptions],
    ) -> FileList | Future[FileList]: ...
    def list(
        self,
        parameters: FileListParameters | Mapping[str, Any] | None = None,
        **options: Unpack[FileListOptions],
    ) -> FileList | Future[FileList]:
        """Returns one page of files; see ``AsyncFilesAPI.list``."""
        return self._client._call(lambda: self._api.list(parameters, **options))

    @overload
    def delete(
        self,
        file_id: str,
        parameters: None = None,
        **options: Unpack[BlockingOptions],
    ) -> FileDeleted: ...
    @overload
    def delete(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        **options: Unpack[Options],
    ) -> FileDeleted | Future[FileDeleted]: ...
    def delete(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        **options: Unpack[Options],
    ) -> FileDeleted | Future[FileDeleted]:
        """Deletes a file; see ``AsyncFilesAPI.delete``."""
        return self._client._call(lambda: self._api.delete(file_id, parameters, **options))

    @overload
    def content(
        self,
        file_id: str,
        parameters: None = None,
        **options: Unpack[BlockingOptions],
    ) -> bytes: ...
    @overload
    def content(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        **options: Unpack[Options],
    ) -> bytes | Future[bytes]: ...
    def content(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        **options: Unpack[Options],
    ) -> bytes | Future[bytes]:
        """Returns a file's content; see ``AsyncFilesAPI.content``."""
        return self._client._call(lambda: self._api.content(file_id, parameters, **options))

    @overload
    def download(
        self,
        file_id: str,
        destination: str | os.PathLike[str],
        parameters: None = None,
        **options: Unpack[BlockingDownloadOptions],
    ) -> pathlib.Path: ...
    @overload
    def download(
        self,
        file_id: str,
        destination: IO[bytes],
        parameters: None = None,
        **options: Unpack[BlockingDownloadOptions],
    ) -> None: ...
    @overload
    def download(
        self,
        file_id: str,
        destination: str | os.PathLike[str],
        parameters: DownloadParameters | Mapping[str, Any] | None = None,
        **options: Unpack[DownloadOptions],
    ) -> pathlib.Path | Future[pathlib.Path]: ...
    @overload
    def download(
        self,
        file_id: str,
        destination: IO[bytes],
        parameters: DownloadParameters | Mapping[str, Any] | None = None,
        **options: Unpack[DownloadOptions],
    ) -> Future[None] | None: ...
    def download(
        self,
        file_id: str,
        destination: str | os.PathLike[str] | IO[bytes],
        parameters: DownloadParameters | Mapping[str, Any] | None = None,
        **options: Unpack[DownloadOptions],
    ) -> object:
        """Streams a file's content to ``destination``; see ``AsyncFilesAPI.download``."""
        return self._client._call(
            lambda: self._api.download(file_id, destination, parameters, **options)
        )

    @overload
    def wait_for_processing(
        self,
        file_id: str,
        parameters: None = None,
        *,
        poll_interval: float = 1.0,
        max_wait: float = 1800.0,
        **options: Unpack[BlockingOptions],
    ) -> OpenAIFile: ...
    @overload
    def wait_for_processing(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        *,
        poll_interval: float = 1.0,
        max_wait: float = 1800.0,
        **options: Unpack[Options],
    ) -> OpenAIFile | Future[OpenAIFile]: ...
    def wait_for_processing(
        self,
        file_id: str,
        parameters: ParametersArg = None,
        *,
        poll_interval: float = 1.0,
        max_wait: float = 1800.0,
        **options: Unpack[Options],
    ) -> OpenAIFile | Future[OpenAIFile]:
        """Polls a file until it is processed; see ``AsyncFilesAPI.wait_for_processing``."""
        return self._client._call(
            lambda: self._api.wait_for_processing(
                file_id, parameters, poll_interval=poll_interval, max_wait=max_wait, **options
            )
        )

    @overload
    def import_url(
        self,
        content_url: str,
        filename: str,
        purpose: str,
        parameters: None = None,
        **options: Unpack[BlockingOptions],
    ) -> OpenAIFile: ...
    @overload
    def import_url(
        self,
        content_url: str,
        filename: str,
        purpose: str,
        parameters: ParametersArg = None,
        **options: Unpack[Options],
    ) -> OpenAIFile | Future[OpenAIFile]: ...
    def import_url(
        self,
        content_url: str,
        filename: str,
        purpose: str,
        parameters: ParametersArg = None,
        **options: Unpack[Options],
    ) -> OpenAIFile | Future[OpenAIFile]:
        """Has Azure fetch a file from a URL; see ``AsyncFilesAPI.import_url``."""
        return self._client._call(
            lambda: self._api.import_url(content_url, filename, purpose, parameters, **options)
        )

    def iterate(
        self,
        parameters: FileListParameters | Mapping[str, Any] | None = None,
        **options: Unpack[BlockingFileListOptions],
    ) -> Iterator[OpenAIFile]:
        """Returns an iterator over every file, fetching pages as it goes; takes no callbacks."""
        return self._client._iterate(lambda: self._api.iterate(parameters, **options))
