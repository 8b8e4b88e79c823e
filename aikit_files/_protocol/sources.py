"""What an upload reads from: a path, a blob, a binary file object or an async iterable.

Each is described once, synchronously and before any I/O: its size when it can be known (a
path's from ``stat``, a seekable file's from its end), the default filename, and whether the
body can be sent again from its start on a retry.
"""

from __future__ import annotations

import enum
import io
import os
import stat
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs

from aikit_files._exceptions import InvalidArgumentError, InvalidArgumentTypeError
from aikit_files._limits import UPLOAD_LIMIT, human_size

if TYPE_CHECKING:
    from _typeshed import SupportsRead

#: What ``create`` uploads: a path, a blob, a binary file object, or an async iterable of bytes.
UploadFile: TypeAlias = (
    "str | os.PathLike[str] | bytes | bytearray | memoryview | SupportsRead[bytes]"
    " | AsyncIterable[bytes]"
)

#: The filename of a blob or a stream when none is given.
DEFAULT_FILENAME = "file"


class SourceKind(enum.Enum):
    """The kinds of ``file`` that ``create`` accepts."""

    PATH = "path"
    BLOB = "blob"
    FILE = "file object"
    STREAM = "async iterable"


@attrs.frozen
class UploadSource:
    """A described upload source."""

    kind: SourceKind
    value: Any = attrs.field(repr=False)
    """The path (``str``), the blob (a ``memoryview``), the file object or the async iterable."""
    size: int | None
    """Bytes to send; None when it cannot be known before reading (sent chunked): an async
    iterable, a file object that cannot seek, a file of ``/proc`` or ``/sys`` (which says it
    is empty)."""
    filename: str
    """The filename to send when the caller gives none."""
    start: int = 0
    """For a seekable file object: the position reading starts from, on each attempt."""
    seekable: bool = False
    """For a file object: whether it can be rewound to ``start``."""

    @property
    def replayable(self) -> bool:
        """Whether the whole body can be produced again, from its start, for a retry."""
        return self.kind in (SourceKind.PATH, SourceKind.BLOB) or self.seekable


def describe_source(file: object, limit: int = UPLOAD_LIMIT) -> UploadSource:
    """Describes the ``file`` argument of ``create``, checking it before any transfer.

    Args:
        file: the ``file`` argument.
        limit: the most bytes the API takes (its Uploads API's limit).

    Raises:
        InvalidArgumentError: the path is missing, a directory, unreadable, the file is over
            ``limit``, or the file object is closed (a ``TypeError`` too when the
            value is of no accepted type, or a file object is in text mode).
    """
    if isinstance(file, bytes | bytearray | memoryview):
        return _describe_blob(file, limit)
    if isinstance(file, str | os.PathLike):
        return _describe_path(os.fsdecode(file), limit)
    if hasattr(file, "__aiter__"):
        return UploadSource(SourceKind.STREAM, file, size=None, filename=DEFAULT_FILENAME)
    if callable(getattr(file, "read", None)):
        return _describe_file_object(file, limit)
    raise InvalidArgumentTypeError(
        "file must be a path (str or os.PathLike), bytes-like, a binary file object or an "
        f"async iterable of bytes, not {type(file).__name__}"
    )


def _checked_size(size: int, limit: int) -> int:
    if size > limit:
        raise InvalidArgumentError(
            f"the file holds {human_size(size)}, more than the API accepts ({human_size(limit)})"
        )
    return size


def _describe_blob(blob: bytes | bytearray | memoryview, limit: int) -> UploadSource:
    try:
        view = memoryview(blob).cast("B")
    except TypeError as exc:
        raise InvalidArgumentError(f"file: a memoryview must be contiguous ({exc})") from exc
    return UploadSource(SourceKind.BLOB, view, _checked_size(view.nbytes, limit), DEFAULT_FILENAME)


def _describe_path(path: str, limit: int) -> UploadSource:
    if not path:
        raise InvalidArgumentError("file: the path is empty")
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise InvalidArgumentError(f"file: no such file: {path!r}") from exc
    except OSError as exc:
        raise InvalidArgumentError(f"file: cannot stat {path!r}: {exc.strerror}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise InvalidArgumentError(f"file: {path!r} is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidArgumentError(f"file: {path!r} is not a regular file")
    if not os.access(path, os.R_OK):
        raise InvalidArgumentError(f"file: {path!r} is not readable")
    # NOTE: a name that is not valid UTF-8 keeps its readable part; the rest becomes U+FFFD.
    name = os.path.basename(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    size: int | None = _checked_size(info.st_size, limit)
    if size == 0 and _holds_bytes(path):
        # NOTE: a file the kernel makes as it is read (/proc, /sys) says it is empty: it is
        # sent as what reading it gives, of a size known once sent (chunked), not as 0 bytes.
        size = None
    return UploadSource(SourceKind.PATH, path, size=size, filename=name)


def _holds_bytes(path: str) -> bool:
    """Whether reading a file that says it is empty gives a byte nonetheless."""
    try:
        with open(path, "rb", buffering=0) as file:
            return bool(file.read(1))
    except OSError as exc:
        raise InvalidArgumentError(f"file: cannot read {path!r}: {exc.strerror}") from exc


def _describe_file_object(file: Any, limit: int) -> UploadSource:
    if isinstance(file, io.TextIOBase):
        raise InvalidArgumentTypeError("file: a text-mode file object; open the file with 'rb'")
    if getattr(file, "closed", False):
        raise InvalidArgumentError("file: the file object is closed")
    name = getattr(file, "name", None)
    filename = os.path.basename(name) if isinstance(name, str) and name else DEFAULT_FILENAME
    try:
        seekable = bool(file.seekable())
    except (AttributeError, OSError, ValueError):
        seekable = False
    if not seekable:
        return UploadSource(SourceKind.FILE, file, size=None, filename=filename)
    try:
        start = file.tell()
        file.seek(0, io.SEEK_END)
        end = file.tell()
        file.seek(start)
    except (OSError, ValueError) as exc:
        raise InvalidArgumentError(f"file: cannot find the size of the file object: {exc}") from exc
    return UploadSource(
        SourceKind.FILE,
        file,
        size=_checked_size(max(end - start, 0), limit),
        filename=filename,
        start=start,
        seekable=True,
    )
