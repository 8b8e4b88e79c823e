"""Wire models of the Files and Uploads APIs, and the result objects callbacks receive; no I/O.

Field names are the wire names. Fields the server may extend (``purpose``, ``status``) are typed
``str``, not a closed ``Literal``, so that an unknown value never breaks parsing.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Mapping
from typing import Any, Final, Self

import attrs

from ._exceptions import InvalidArgumentError, InvalidArgumentTypeError
from ._limits import EXPIRES_AFTER_MAX, EXPIRES_AFTER_MIN


@attrs.frozen
class OpenAIFile:
    """A file stored by the API (the ``File`` object)."""

    id: str
    """The file identifier, referenced in the API endpoints."""
    bytes: int | None = None
    """The size of the file in bytes (Azure may report none while a file is pending)."""
    created_at: int = 0
    """Unix time (seconds) when the file was created."""
    filename: str = ""
    """The name of the file."""
    purpose: str = ""
    """The intended purpose (``assistants``, ``batch``, ``fine-tune``, ``vision``, ...)."""
    object: str = "file"
    """Always ``file``."""
    status: str | None = None
    """``uploaded``, ``processed`` or ``error`` (Azure adds ``pending``, ``running``, ...)."""
    status_details: str | None = None
    """Why processing failed, when ``status`` is ``error``."""
    expires_at: int | None = None
    """Unix time (seconds) when the file expires, or None if it does not."""


@attrs.frozen
class FileList:
    """One page of ``GET /files``."""

    data: list[OpenAIFile] = attrs.Factory(list)
    """The files of this page."""
    first_id: str | None = None
    """The id of the first file of the page."""
    last_id: str | None = None
    """The id of the last file of the page: the ``after`` cursor of the next page."""
    has_more: bool = False
    """Whether more files follow this page."""
    object: str = "list"
    """Always ``list``."""

    @property
    def files(self) -> list[OpenAIFile]:
        """The files of this page (the same list as ``data``, as 4D names it)."""
        return self.data


@attrs.frozen
class FileDeleted:
    """The answer to ``DELETE /files/{id}``."""

    id: str
    """The id of the deleted file."""
    deleted: bool = False
    """Whether the file was deleted."""
    object: str = "file"
    """Always ``file``."""


def _check_expires_seconds(_instance: object, _attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentTypeError(
            f"expires_after.seconds must be an integer, not {type(value).__name__}"
        )
    if not EXPIRES_AFTER_MIN <= value <= EXPIRES_AFTER_MAX:
        raise InvalidArgumentError(
            f"expires_after.seconds must be between {EXPIRES_AFTER_MIN} and "
            f"{EXPIRES_AFTER_MAX}, got {value}"
        )


def _check_anchor(_instance: object, _attribute: attrs.Attribute[str], value: str) -> None:
    if value != "created_at":
        raise InvalidArgumentError(f"expires_after.anchor must be 'created_at', got {value!r}")


@attrs.frozen(kw_only=True)
class ExpiresAfter:
    """The expiration policy of an uploaded file; checked when it is built."""

    seconds: int = attrs.field(validator=_check_expires_seconds)
    """Seconds after the anchor when the file expires: 3600 (1 hour) to 2592000 (30 days)."""
    anchor: str = attrs.field(default="created_at", validator=_check_anchor)
    """The timestamp the policy counts from; only ``created_at`` is supported."""


@attrs.frozen
class Upload:
    """An Upload of the Uploads API, which collects Parts into one File."""

    id: str
    """The Upload identifier."""
    bytes: int = 0
    """The number of bytes the Upload expects."""
    created_at: int = 0
    """Unix time (seconds) when the Upload was created."""
    filename: str = ""
    """The name of the file to create."""
    purpose: str = ""
    """The purpose of the file to create."""
    status: str = "pending"
    """``pending``, ``completed``, ``cancelled`` or ``expired``."""
    expires_at: int = 0
    """Unix time (seconds) when the Upload expires."""
    object: str = "upload"
    """Always ``upload``."""
    file: OpenAIFile | None = None
    """The File created when the Upload was completed."""


@attrs.frozen
class UploadPart:
    """A Part added to an Upload."""

    id: str
    """The Part identifier."""
    upload_id: str = ""
    """The Upload this Part belongs to."""
    created_at: int = 0
    """Unix time (seconds) when the Part was created."""
    object: str = "upload.part"
    """Always ``upload.part``."""


# --- The error body: written by the local server, read by the client. ---


@attrs.frozen
class FileProblem:
    """One problem ``check_file`` found in a file."""

    line: int | None
    """The line it is on, from 1; None for a problem of the whole file (its size, its name)."""
    field: str | None
    """The field of the line's object it concerns (``custom_id``, ``messages[2].role``), if one."""
    message: str
    """What is wrong, in words."""

    def __str__(self) -> str:
        where = "" if self.line is None else f"line {self.line}: "
        return f"{where}{self.field}: {self.message}" if self.field else f"{where}{self.message}"


@attrs.frozen(kw_only=True)
class FileCheck:
    """What ``check_file`` found in a file: whether it meets the API's format rules for its
    purpose, its problems, and what it holds."""

    ok: bool
    """True when no problem was found."""
    purpose: str
    """The purpose the file was checked for."""
    problems: list[FileProblem] = attrs.Factory(list)
    """The first 100 problems, in the order of the file."""
    problem_count: int = 0
    """How many problems were found in all."""
    lines: int | None = None
    """Lines read (JSON Lines purposes); None when the purpose has no line rules."""
    bytes: int = 0
    """The file's size in bytes."""
    format: str | None = None
    """Fine-tuning: the format of the examples (``chat``, ``preference``, ``reinforcement``,
    ``completion``), detected from the first; None for other purposes or when none fits."""
    examples: int | None = None
    """Fine-tuning: the number of training examples."""
    endpoint: str | None = None
    """Batch: the endpoint every request calls (``/v1/chat/completions``, ...)."""
    requests: int | None = None
    """Batch: the number of requests."""


@attrs.frozen(kw_only=True)
class ErrorDetail:
    """The ``error`` object of an error response.

    OpenAI sends ``message``, ``type``, ``param`` and ``code`` (each key present, null allowed);
    Azure (the Microsoft REST guidelines) sends ``code``, ``message`` and, when it has one,
    ``target``, its name for the faulty parameter.
    """

    message: str
    """What went wrong."""
    type: str | None = None
    """OpenAI's error type (``invalid_request_error``, ``server_error``, ...)."""
    param: str | None = None
    """OpenAI: the parameter at fault."""
    code: str | None = None
    """OpenAI's error code, or Azure's ``ErrorCode`` (``invalidPayload``, ``notFound``, ...)."""
    target: str | None = None
    """Azure: the parameter at fault."""


@attrs.frozen
class ErrorBody:
    """An error response's body: ``{"error": {...}}`` on both OpenAI and Azure."""

    error: ErrorDetail


# --- Result objects: what on_response / on_error / on_terminate receive (4D's OpenAIResult). ---


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
