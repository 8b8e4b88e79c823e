"""The result objects callbacks receive (4D's ``OpenAIResult`` and its kinds), and their parts."""

from __future__ import annotations

import pathlib
import re
from collections.abc import Mapping
from typing import Any, Final, Self

import attrs

from ._models import FileDeleted, FileList, OpenAIFile, Upload, UploadPart


@attrs.frozen(kw_only=True)
class ErrorInfo:
    """One error of a failed call, as 4D's ``OpenAIError``."""

    message: str
    """What went wrong, in the server's words when it sent any."""
    code: str | None = None
    """The server's error code (``invalid_request_error`` code, Azure's ``notFound``, ...)."""
    type: str | None = None
    """The server's error type, or the exception's class name for a local failure."""
    param: str | None = None
    """The parameter at fault, when the server named one."""
    status: int | None = None
    """The HTTP status; None when no response was received (network error, timeout)."""


def _number(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


#: Header names whose values are credentials (Authorization, Proxy-Authorization, api-key,
#: x-api-key, Ocp-Apim-Subscription-Key, Cookie, Set-Cookie, tokens...), but the rate limits'
#: counts of tokens.
_SECRET_HEADER: Final = re.compile(
    r"^(?!x-ratelimit-).*(auth|key|token|secret|cookie|passw|credential|session)", re.I
)
#: Header values that are credentials whatever the header's name.
_SECRET_VALUE: Final = re.compile(r"\s*(bearer|basic|digest|negotiate|sk-)", re.I)
#: What a credential's value shows as in a repr.
HIDDEN: Final = "<hidden>"


def headers_repr(headers: object) -> str:
    """The repr of a mapping of headers, with the values of credentials hidden: a repr ends up
    in logs and tracebacks, and a header given to a call may hold a key."""
    if headers is None:
        return "None"
    if not isinstance(headers, Mapping):
        return f"<{type(headers).__name__}>"
    shown = {
        name: HIDDEN
        if not isinstance(name, str)
        or not isinstance(value, str)
        or _SECRET_HEADER.search(name)
        or _SECRET_VALUE.match(value)
        else value
        for name, value in headers.items()
    }
    return repr(shown)


@attrs.frozen(kw_only=True)
class RateLimit:
    """The ``x-ratelimit-*`` response headers, parsed (4D's ``rateLimit``)."""

    limit_requests: int | None = None
    limit_tokens: int | None = None
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests: str | None = None
    """Time until the request budget resets, as sent (for instance ``1s``)."""
    reset_tokens: str | None = None
    """Time until the token budget resets, as sent."""

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit | None:
        """Parses the headers; None when the response carried no ``x-ratelimit-*`` header."""
        lowered = {k.lower(): v for k, v in headers.items()}
        if not any(k.startswith("x-ratelimit-") for k in lowered):
            return None
        return cls(
            limit_requests=_number(lowered.get("x-ratelimit-limit-requests")),
            limit_tokens=_number(lowered.get("x-ratelimit-limit-tokens")),
            remaining_requests=_number(lowered.get("x-ratelimit-remaining-requests")),
            remaining_tokens=_number(lowered.get("x-ratelimit-remaining-tokens")),
            reset_requests=lowered.get("x-ratelimit-reset-requests"),
            reset_tokens=lowered.get("x-ratelimit-reset-tokens"),
        )


@attrs.frozen(kw_only=True)
class Result:
    """The outcome of one call, delivered to its callbacks (4D's ``OpenAIResult``)."""

    success: bool
    """True when the call succeeded (and so ``errors`` is empty)."""
    errors: list[ErrorInfo] = attrs.Factory(list)
    """Why the call failed; empty on success."""
    terminated: bool = True
    """True once the call has ended, as in 4D: every delivered result has it set."""
    cancelled: bool = False
    """True when the call was cancelled (by the caller, or by a client shutdown that cancels)."""
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=headers_repr)
    """The headers of the response that gave the value (for a call of several requests, the
    one that produced it) or the error; empty when no response was received."""
    rate_limit: RateLimit | None = None
    """The parsed ``x-ratelimit-*`` headers, if the response had any."""
    request_id: str | None = None
    """The ``x-request-id`` (or Azure's ``apim-request-id``) of that response, if any."""
    exception: BaseException | None = attrs.field(default=None, repr=False, eq=False)
    """The exception the call ended with, if it failed."""
    value: Any = attrs.field(default=None, repr=False, eq=False)
    """What awaiting the call returned, if it succeeded."""

    @classmethod
    def succeeded(cls, value: Any, **meta: Any) -> Self:
        """The result of a call that returned ``value``; ``meta`` holds the common fields."""
        return cls(success=True, value=value, **meta)

    def raise_for_error(self) -> None:
        """Raises the exception the call failed with, as 4D's ``throw()``; no-op on success."""
        if self.exception is not None:
            raise self.exception


@attrs.frozen(kw_only=True)
class FileResult(Result):
    """Result of ``create``, ``retrieve``, ``wait_for_processing`` and ``import_url``."""

    file: OpenAIFile | None = None
    """The file, on success (for a source of ``create_many`` skipped, the file already there)."""
    source: str | None = None
    """In the results of ``create_many``: the path or filename the file came from."""
    outcome: str | None = None
    """In the results of ``create_many``: ``created``, ``skipped``, ``failed`` or
    ``not_started``."""

    @classmethod
    def succeeded(cls, value: OpenAIFile, **meta: Any) -> Self:
        return cls(success=True, value=value, file=value, **meta)


@attrs.frozen(kw_only=True)
class ManyResult(Result):
    """Result of ``create_many``: one ``FileResult`` per source, and the counts of outcomes.

    ``success`` is true when no file failed (and the batch was not cancelled).
    """

    results: list[FileResult] = attrs.Factory(list)
    """One per source, in the order of the sources (a directory's files in sorted path order)."""
    created: int = 0
    """How many files were made."""
    skipped: int = 0
    """How many sources were skipped, already there (``skip_existing``, ``manifest``)."""
    failed: int = 0
    """How many files failed (each ``FileResult`` says why)."""
    not_started: int = 0
    """How many files were never started (the batch was cancelled first)."""

    @classmethod
    def succeeded(cls, value: ManyResult, **meta: Any) -> Self:
        # NOTE: the batch's value is its result already; a batch has no one response's headers.
        assert isinstance(value, cls)
        return value


@attrs.frozen(kw_only=True)
class FileListResult(Result):
    """Result of ``list``."""

    page: FileList | None = None
    """The page, on success."""

    @classmethod
    def succeeded(cls, value: FileList, **meta: Any) -> Self:
        return cls(success=True, value=value, page=value, **meta)

    @property
    def files(self) -> list[OpenAIFile]:
        """The files of the page; empty on failure."""
        return self.page.data if self.page is not None else []

    @property
    def first_id(self) -> str | None:
        """The id of the first file of the page."""
        return self.page.first_id if self.page is not None else None

    @property
    def last_id(self) -> str | None:
        """The id of the last file of the page: the ``after`` of the next page."""
        return self.page.last_id if self.page is not None else None

    @property
    def has_more(self) -> bool:
        """Whether more files follow this page."""
        return self.page.has_more if self.page is not None else False


@attrs.frozen(kw_only=True)
class FileDeletedResult(Result):
    """Result of ``delete``."""

    deleted: FileDeleted | None = None
    """The ``FileDeleted`` object, on success (as in 4D)."""

    @classmethod
    def succeeded(cls, value: FileDeleted, **meta: Any) -> Self:
        return cls(success=True, value=value, deleted=value, **meta)


def _size_of(content: bytes | None) -> str:
    return "None" if content is None else f"<{len(content)} bytes>"


@attrs.frozen(kw_only=True)
class ContentResult(Result):
    """Result of ``content``."""

    content: bytes | None = attrs.field(default=None, repr=_size_of)
    """The file's content, on success (its repr shows only its size)."""

    @classmethod
    def succeeded(cls, value: bytes, **meta: Any) -> Self:
        return cls(success=True, value=value, content=value, **meta)


@attrs.frozen(kw_only=True)
class DownloadResult(Result):
    """Result of ``download``."""

    path: pathlib.Path | None = None
    """Where the content was written, on success."""

    @classmethod
    def succeeded(cls, value: pathlib.Path, **meta: Any) -> Self:
        return cls(success=True, value=value, path=value, **meta)


@attrs.frozen(kw_only=True)
class UploadResult(Result):
    """Result of ``uploads.create``, ``uploads.complete`` and ``uploads.cancel``."""

    upload: Upload | None = None
    """The Upload, on success (after ``complete``, with its ``file``)."""

    @classmethod
    def succeeded(cls, value: Upload, **meta: Any) -> Self:
        return cls(success=True, value=value, upload=value, **meta)


@attrs.frozen(kw_only=True)
class UploadPartResult(Result):
    """Result of ``uploads.add_part``."""

    part: UploadPart | None = None
    """The Part, on success."""

    @classmethod
    def succeeded(cls, value: UploadPart, **meta: Any) -> Self:
        return cls(success=True, value=value, part=value, **meta)
