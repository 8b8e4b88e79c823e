"""The Uploads API as openai-python exposes it (``AsyncUploadsAPI``): create an Upload, add
its Parts, complete it, cancel it; each call checked at once, then run as a task.

A large file that ``AsyncFilesAPI.create`` sends in Parts goes through ``_large_upload``, which
this module shares its Part form and answer sinks with.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Unpack

from ._calls import CallTracker
from ._exceptions import InvalidArgumentError, InvalidArgumentTypeError
from ._large_upload import PART_SINK, UPLOAD_SINK, part_form
from ._models import ExpiresAfter, Upload, UploadPart
from ._params import (
    Options,
    Parameters,
    ParametersArg,
    check_integer,
    check_line,
    expires_after_from_mapping,
    forbid_content_type,
    merge,
)
from ._protocol.plan import check_expiry_allowed
from ._protocol.requests import Endpoint, check_object_id
from ._protocol.sources import UploadFile, describe_source
from ._results import UploadPartResult, UploadResult
from ._transport import Transport

_MD5: Final = re.compile(r"[0-9a-fA-F]{32}")


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


class AsyncUploadsAPI:
    """The Uploads API, as openai-python exposes it: ``create``, ``add_part``, ``complete``,
    ``cancel``.

    Each method checks its arguments at once (a bad one raises ``InvalidArgumentError`` before
    any I/O, and no callback fires), then returns an ``asyncio.Task`` whose result also goes to
    the callbacks of ``parameters``. ``AsyncFilesAPI.create`` sends a file larger than
    ``upload_threshold`` through the same routes on its own (``LargeUpload``).
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
        **options: Unpack[Options],
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
        check_expiry_allowed(self._endpoint.config.provider, expiry)
        spec = self._endpoint.create_upload(
            filename=check_line("filename", filename),
            purpose=check_line("purpose", purpose),
            size=check_integer("bytes", bytes, 0, self._endpoint.config.upload_limit),
            mime_type=check_line("mime_type", mime_type),
            expires_after=expiry,
        )
        return self._tracker.start(
            self._transport.send(spec, params, UPLOAD_SINK), params, UploadResult, "uploads.create"
        )

    def add_part(
        self,
        upload_id: str,
        data: UploadFile,
        parameters: ParametersArg = None,
        **options: Unpack[Options],
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
            self._transport.send(spec, params, PART_SINK),
            params,
            UploadPartResult,
            "uploads.add_part",
        )

    def complete(
        self,
        upload_id: str,
        part_ids: Sequence[str],
        parameters: ParametersArg = None,
        *,
        md5: str | None = None,
        **options: Unpack[Options],
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
            self._transport.send(spec, params, UPLOAD_SINK),
            params,
            UploadResult,
            "uploads.complete",
        )

    def cancel(
        self, upload_id: str, parameters: ParametersArg = None, **options: Unpack[Options]
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
            self._transport.send(spec, params, UPLOAD_SINK), params, UploadResult, "uploads.cancel"
        )
