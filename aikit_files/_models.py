"""Wire models of the Files and Uploads APIs, and what check_file finds; no I/O (the result objects
callbacks receive are in ``_results``).

Field names are the wire names. Fields the server may extend (``purpose``, ``status``) are typed
``str``, not a closed ``Literal``, so that an unknown value never breaks parsing.
"""

from __future__ import annotations

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
    purpose: str = ""
    """The purpose the file was checked for."""


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
