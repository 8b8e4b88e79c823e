"""Framing of the ``multipart/form-data`` body of ``POST /files``, with its exact length.

The body is ``head + file bytes + tail``: the form fields and the file part's headers come
first, so the file can be streamed straight after them and the whole length is known from the
file's size alone, without reading it.
"""

from __future__ import annotations

import functools
import mimetypes
import os
from collections.abc import Sequence
from typing import Final

import attrs

from aikit_files._models import ExpiresAfter

#: Content types the standard table lacks or that OpenAI documents differently; by extension.
_CONTENT_TYPES = {
    # OpenAI's own examples send JSON Lines as ``text/jsonl`` (the Uploads API reference).
    ".jsonl": "text/jsonl",
    ".md": "text/markdown",
    # Python's own table changed for these between 3.11 and 3.13: pinned, so that a file goes
    # with one type whatever the Python.
    ".markdown": "text/markdown",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".rst": "text/x-rst",
    ".rtf": "application/rtf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".go": "text/x-golang",
    ".cs": "text/x-csharp",
    ".cpp": "text/x-c++",
    ".java": "text/x-java",
    ".php": "text/x-php",
    ".rb": "text/x-ruby",
    ".ts": "application/typescript",
    ".tex": "text/x-tex",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"

# NOTE: a private table built from Python's defaults only: ``mimetypes.guess_type`` also reads
# the system's mime.types files, so the same filename would get a different type on each machine.
_MIMETYPES = mimetypes.MimeTypes()

# What browsers and httpx (hence the official SDK) do with a name in a quoted header parameter
# (the WHATWG HTML form encoding): a double quote and the control characters, which cannot
# appear there, are percent-encoded and a backslash is escaped. Other characters go as UTF-8.
_PARAM_ESCAPES = str.maketrans(
    {'"': "%22", "\\": "\\\\", chr(0x7F): "%7F"}
    | {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}
)


def guess_content_type(filename: str) -> str:
    """The content type of a file part, guessed from the filename's extension."""
    content_type = _type_of_extension(os.path.splitext(filename)[1])
    return _guessed_type(filename) if content_type is None else content_type


@functools.lru_cache(maxsize=256)
def _type_of_extension(extension: str) -> str | None:
    """The content type of a file with this extension (asked once per extension: a batch of
    thousands of files has a handful); None when the name's other extensions matter too (a
    compressed file's, ``.tar.gz``)."""
    lower = extension.lower()
    if lower in _CONTENT_TYPES:
        return _CONTENT_TYPES[lower]
    if lower in _MIMETYPES.encodings_map or lower in _MIMETYPES.suffix_map:
        return None
    return _guessed_type(f"file{extension}")


def _guessed_type(filename: str) -> str:
    content_type, encoding = _MIMETYPES.guess_type(filename, strict=False)
    # A compressed file (``.tar.gz``) is an opaque blob, whatever the type under the compression.
    if content_type is None or encoding is not None:
        return DEFAULT_CONTENT_TYPE
    return content_type


class _RandomPool:
    """Random bytes from the system's source (as ``secrets`` takes them), asked for 4 KiB at a
    time: one system call per 256 boundaries rather than one each. A forked child starts a pool
    of its own.

    NOTE: no lock: two threads that take at once may get the same bytes, and two forms the same
    boundary, which is harmless (a boundary must be unknown to the file's author, not unique).
    """

    SIZE: Final = 4096

    def __init__(self) -> None:
        self._bytes = b""
        self._taken = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._bytes, self._taken = b"", 0

    def take(self, count: int) -> bytes:
        """``count`` random bytes."""
        start = self._taken
        if start + count > len(self._bytes):
            self._bytes, start = os.urandom(self.SIZE), 0
        self._taken = start + count
        return self._bytes[start : start + count]


_RANDOM = _RandomPool()


def _new_boundary() -> str:
    """A random boundary of 128 bits, as ``secrets.token_hex(16)`` makes one."""
    return _RANDOM.take(16).hex()


def quote_param(value: str) -> str:
    """Quotes a ``Content-Disposition`` parameter value (a field name or a filename)."""
    # NOTE: a printable name holds no control character: only its quotes and backslashes
    # could change, and most names have neither (translating with the table costs a dict
    # lookup per character).
    if value.isprintable() and '"' not in value and "\\" not in value:
        return '"' + value + '"'
    return '"' + value.translate(_PARAM_ESCAPES) + '"'


def form_fields(purpose: str, expires_after: ExpiresAfter | None) -> list[tuple[str, str]]:
    """The text fields of ``POST /files``, in the order they are sent."""
    fields = [("purpose", purpose)]
    if expires_after is not None:
        fields.append(("expires_after[anchor]", expires_after.anchor))
        fields.append(("expires_after[seconds]", str(expires_after.seconds)))
    return fields


@attrs.frozen
class MultipartForm:
    """A form with text fields and then one file part, whose bytes go between head and tail."""

    boundary: str
    head: bytes = attrs.field(repr=False)
    """Every text field, then the file part's headers: what is sent before the file's bytes."""
    tail: bytes = attrs.field(repr=False)
    """What is sent after the file's bytes: the closing delimiter."""

    @property
    def content_type(self) -> str:
        """The request's ``Content-Type`` header."""
        return f"multipart/form-data; boundary={self.boundary}"

    def content_length(self, file_size: int | None) -> int | None:
        """The body's exact length for a file of ``file_size`` bytes; None if that is unknown."""
        if file_size is None:
            return None
        return len(self.head) + file_size + len(self.tail)


def build_form(
    fields: Sequence[tuple[str, str]],
    *,
    file_field: str = "file",
    filename: str,
    content_type: str,
    boundary: str | None = None,
) -> MultipartForm:
    """Frames a form of text fields followed by one file part.

    Text is encoded as UTF-8; a lone surrogate (from an undecodable file name) becomes ``?``.

    Args:
        fields: the text fields, ``(name, value)``, sent first and in this order.
        file_field: the name of the file part.
        filename: the file part's filename, quoted safely.
        content_type: the file part's content type.
        boundary: the delimiter; a random one by default (a test may fix it).

    Returns:
        The framing, whose ``head`` and ``tail`` enclose the file's bytes.
    """
    boundary = boundary or _new_boundary()
    # NOTE: the head is written as text and encoded once (UTF-8 encodes piece by piece alike).
    # The values are joined, never formatted: a str enum formats as its name, not its value.
    head = [
        f"--{boundary}\r\nContent-Disposition: form-data; name={quote_param(name)}\r\n\r\n"
        + value
        + "\r\n"
        for name, value in fields
    ]
    head.append(
        f"--{boundary}\r\nContent-Disposition: form-data; name={quote_param(file_field)}; "
        f"filename={quote_param(filename)}\r\nContent-Type: " + content_type + "\r\n\r\n"
    )
    return MultipartForm(
        boundary,
        "".join(head).encode("utf-8", "replace"),
        f"\r\n--{boundary}--\r\n".encode("ascii"),
    )
