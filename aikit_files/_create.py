"""The upload of ``create``: its source checked, then sent in one request or in Parts."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ._checks import check_file
from ._exceptions import InvalidArgumentError, InvalidFileError
from ._file_requests import FILE_SINK
from ._large_upload import LargeUpload
from ._limits import purpose_limit_error
from ._models import OpenAIFile
from ._params import FileParameters
from ._protocol.multipart import build_form, form_fields, guess_content_type
from ._protocol.plan import goes_in_parts
from ._protocol.requests import Endpoint, FormBody
from ._protocol.responses import Reply
from ._protocol.sources import SourceKind, UploadFile, UploadSource, describe_source
from ._recovery import Recovery, SentBytes
from ._transport import Recover, Transport

T = TypeVar("T")


def upload(
    transport: Transport,
    endpoint: Endpoint,
    recovery: Recovery,
    file: UploadFile,
    purpose: str,
    params: FileParameters,
    filename: str | None = None,
) -> Coroutine[Any, Any, Reply[OpenAIFile]]:
    """The upload of ``file``, not started yet: one ``POST /files``, or the Uploads API when the
    source's size is over ``params.upload_threshold``; preceded by ``check_file`` of the source
    when ``params.check`` asks for it. The file's name is ``filename`` (a batch's file), else
    ``params.filename``, else the source's.

    Raises:
        InvalidArgumentError: a source that cannot be sent, a file over the API's limit or its
            purpose's, or ``check=True`` with a source that cannot be read twice.
    """
    source = describe_source(file, endpoint.config.upload_limit)
    if source.size is not None and (too_large := purpose_limit_error(purpose, source.size)):
        raise InvalidArgumentError(too_large)
    if params.check and source.kind not in (SourceKind.PATH, SourceKind.BLOB):
        raise InvalidArgumentError(
            f"check=True reads the file before sending it: give a path or bytes, "
            f"not {source.kind.value}"
        )
    filename = filename or params.filename or source.filename
    content_type = params.content_type or guess_content_type(filename)
    if goes_in_parts(source.size, params.upload_threshold):
        large = LargeUpload.prepare(
            transport,
            endpoint,
            source,
            filename=filename,
            purpose=purpose,
            mime_type=content_type,
            params=params,
            find_file=recovery.find_file,
        )
        return _checked_first(params, source, purpose, filename, large.run())
    form = build_form(
        form_fields(purpose, params.expires_after),
        filename=filename,
        content_type=content_type,
    )
    spec = endpoint.create_file(FormBody(form, source))
    on_progress = params.on_progress
    recover: Recover[OpenAIFile]
    if source.size is not None:
        recover = recovery.for_create(filename, source.size, purpose, params)
    else:
        # NOTE: a stream's size is known once it was sent.
        counted = SentBytes(on_progress)
        on_progress = counted
        recover = recovery.for_stream(filename, purpose, params, counted)
    send = transport.send(spec, params, FILE_SINK, on_progress=on_progress, recover=recover)
    return _checked_first(params, source, purpose, filename, send)


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
