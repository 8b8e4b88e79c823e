"""The sync twin of the Uploads API: each method one visible call of its async twin (see
``aikit_files._sync_files``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any, Unpack, overload

from ._bridge import SyncCalls
from ._models import ExpiresAfter, Upload, UploadPart
from ._params import BlockingOptions, Options, ParametersArg
from ._protocol.sources import UploadFile
from ._uploads import AsyncUploadsAPI


class UploadsAPI:
    """The Uploads API for scripts: the methods of ``AsyncUploadsAPI``, blocking or with a
    Future (see ``FilesAPI``)."""

    def __init__(self, client: SyncCalls) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<aikit_files.UploadsAPI of {self._client!r}>"

    @property
    def _api(self) -> AsyncUploadsAPI:
        return self._client._async_client().uploads

    @overload
    def create(
        self,
        filename: str,
        purpose: str,
        bytes: int,
        mime_type: str,
        parameters: None = None,
        *,
        expires_after: ExpiresAfter | Mapping[str, Any] | None = None,
        **options: Unpack[BlockingOptions],
    ) -> Upload: ...
    @overload
    def create(
        self,
        filename: str,
        purpose: str,
        bytes: int,
        mime_type: str,
        parameters: ParametersArg = None,
        *,
        expires_after: ExpiresAfter | Mapping[str, Any] | None = None,
        **options: Unpack[Options],
    ) -> Upload | Future[Upload]: ...
    def create(
        self,
        filename: str,
        purpose: str,
        bytes: int,
        mime_type: str,
        parameters: ParametersArg = None,
        *,
        expires_after: ExpiresAfter | Mapping[str, Any] | None = None,
        **options: Unpack[Options],
    ) -> Upload | Future[Upload]:
        """Creates an Upload; see ``AsyncUploadsAPI.create``."""
        return self._client._call(
            lambda: self._api.create(
                filename,
                purpose,
                bytes,
                mime_type,
                parameters,
                expires_after=expires_after,
                **options,
            )
        )

    @overload
    def add_part(
        self,
        upload_id: str,
        data: UploadFile,
        parameters: None = None,
        **options: Unpack[BlockingOptions],
    ) -> UploadPart: ...
    @overload
    def add_part(
        self,
        upload_id: str,
        data: UploadFile,
        parameters: ParametersArg = None,
        **options: Unpack[Options],
    ) -> UploadPart | Future[UploadPart]: ...
    def add_part(
        self,
        upload_id: str,
        data: UploadFile,
        parameters: ParametersArg = None,
        **options: Unpack[Options],
    ) -> UploadPart | Future[UploadPart]:
        """Adds a Part to an Upload; see ``AsyncUploadsAPI.add_part``."""
        return self._client._call(
            lambda: self._api.add_part(upload_id, data, parameters, **options)
        )

    @overload
    def complete(
        self,
        upload_id: str,
        part_ids: Sequence[str],
        parameters: None = None,
        *,
        md5: str | None = None,
        **options: Unpack[BlockingOptions],
    ) -> Upload: ...
    @overload
    def complete(
        self,
        upload_id: str,
        part_ids: Sequence[str],
        parameters: ParametersArg = None,
        *,
        md5: str | None = None,
        **options: Unpack[Options],
    ) -> Upload | Future[Upload]: ...
    def complete(
        self,
        upload_id: str,
        part_ids: Sequence[str],
        parameters: ParametersArg = None,
        *,
        md5: str | None = None,
        **options: Unpack[Options],
    ) -> Upload | Future[Upload]:
        """Completes an Upload; see ``AsyncUploadsAPI.complete``."""
        return self._client._call(
            lambda: self._api.complete(upload_id, part_ids, parameters, md5=md5, **options)
        )

    @overload
    def cancel(
        self,
        upload_id: str,
        parameters: None = None,
        **options: Unpack[BlockingOptions],
    ) -> Upload: ...
    @overload
    def cancel(
        self,
        upload_id: str,
        parameters: ParametersArg = None,
        **options: Unpack[Options],
    ) -> Upload | Future[Upload]: ...
    def cancel(
        self,
        upload_id: str,
        parameters: ParametersArg = None,
        **options: Unpack[Options],
    ) -> Upload | Future[Upload]:
        """Cancels an Upload; see ``AsyncUploadsAPI.cancel``."""
        return self._client._call(lambda: self._api.cancel(upload_id, parameters, **options))
