"""Streaming ``multipart/form-data``: a sans-I/O parser, and a reader that feeds it from a request.

The parser never holds more than one network chunk plus a delimiter's length of a part's body,
so a 512 MiB file goes through it in pieces; the reader hands those pieces to the caller, who
counts them and writes them to disk.
"""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Final

import attrs
from aiohttp import ClientPayloadError, StreamReader, web

from ._errors import bad_request, timed_out

#: Largest header block of one part; a real one is a few hundred bytes.
MAX_PART_HEADERS: Final = 16 * 1024

#: RFC 2046's boundary: 1 to 70 of its characters (ASCII only), no space at the end.
_BOUNDARY = re.compile(
    r"boundary=(?:\"([0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?])\""
    r"|([0-9A-Za-z'()+_\-./:=?]{1,70})(?=[;\s]|$))",
    re.IGNORECASE,
)
_PARAM = re.compile(r';\s*([A-Za-z0-9!#$&+.^_`|~*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')
#: What browsers and HTTP clients percent-encode in a quoted ``name`` or ``filename`` (the
#: WHATWG form encoding), and nothing else: a literal ``%41`` stays as it is.
_FORM_ESCAPES: Final = {"%22": '"', "%0D": "\r", "%0A": "\n"}
_FORM_ESCAPE = re.compile("|".join(_FORM_ESCAPES), re.IGNORECASE)


class MultipartError(Exception):
    """The body is not well-formed ``multipart/form-data``."""


@attrs.frozen
class PartStart:
    """A part begins; its headers, with lower-case names."""

    headers: Mapping[str, str]


@attrs.frozen
class PartData:
    """Some bytes of the current part's body."""

    data: bytes


@attrs.frozen
class PartEnd:
    """The current part is complete."""


@attrs.frozen
class FormEnd:
    """The closing delimiter was seen: the form is complete."""


Event = PartStart | PartData | PartEnd | FormEnd


class MultipartParser:
    """Turns the bytes of a multipart body, fed in pieces of any size, into events."""

    def __init__(self, boundary: bytes):
        # NOTE: the body is parsed as if preceded by CRLF, so that the first delimiter needs no
        # special case (RFC 2046: the CRLF before a delimiter belongs to the delimiter).
        self._delimiter = b"\r\n--" + boundary
        self._buffer = bytearray(b"\r\n")
        self._state = "preamble"

    def feed(self, data: bytes) -> list[Event]:
        """Consumes ``data`` and returns the events it completes.

        Raises:
            MultipartError: the body is malformed.
        """
        self._buffer += data
        events: list[Event] = []
        while self._step(events):
            pass
        return events

    def close(self) -> list[Event]:
        """Marks the end of the body.

        Raises:
            MultipartError: the body ended before its closing delimiter.
        """
        if self._state != "epilogue":
            raise MultipartError("the multipart body ended before its closing boundary")
        return []

    def _step(self, events: list[Event]) -> bool:
        buffer = self._buffer
        if self._state in ("preamble", "body"):
            at = buffer.find(self._delimiter)
            if at < 0:
                # Keep what could be the start of a delimiter split across two chunks.
                keep = len(self._delimiter) - 1
                if self._state == "body" and len(buffer) > keep:
                    events.append(PartData(bytes(buffer[:-keep])))
                    del buffer[:-keep]
                elif self._state == "preamble" and len(buffer) > keep:
                    del buffer[:-keep]
                return False
            if self._state == "body":
                if at:
                    events.append(PartData(bytes(buffer[:at])))
                events.append(PartEnd())
            del buffer[: at + len(self._delimiter)]
            self._state = "delimiter"
            return True
        if self._state == "delimiter":
            if len(buffer) < 2:
                return False
            if buffer[:2] == b"--":
                self._state = "epilogue"
                events.append(FormEnd())
                return True
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > 1024:
                    raise MultipartError("malformed multipart boundary line")
                return False
            if buffer[:end].strip(b" \t"):
                raise MultipartError("malformed multipart boundary line")
            del buffer[: end + 2]
            self._state = "headers"
            return True
        if self._state == "headers":
            end = buffer.find(b"\r\n\r\n")
            if buffer.startswith(b"\r\n"):
                end, size = 0, 2
            else:
                size = 4
            if end < 0:
                if len(buffer) > MAX_PART_HEADERS:
                    raise MultipartError("the headers of a multipart part are too large")
                return False
            if end > MAX_PART_HEADERS:
                raise MultipartError("the headers of a multipart part are too large")
            headers = _parse_headers(bytes(buffer[:end]))
            del buffer[: end + size]
            events.append(PartStart(headers))
            self._state = "body"
            return True
        # epilogue: whatever follows the closing delimiter is ignored (RFC 2046).
        buffer.clear()
        return False


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\r\n"):
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or name != name.strip():
            raise MultipartError("malformed header in a multipart part")
        headers[name.lower()] = value.strip()
    return headers


def boundary_of(content_type: str) -> bytes:
    """The boundary of a ``multipart/form-data`` content type.

    Raises:
        ApiError: 400 when the content type is not ``multipart/form-data`` with a boundary.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    match = _BOUNDARY.search(content_type)
    if media_type != "multipart/form-data" or match is None:
        raise bad_request(
            "The request body must be multipart/form-data with a boundary "
            f"(got Content-Type {content_type or 'none'!r})."
        )
    return (match.group(1) or match.group(2)).encode("latin-1")


def disposition(headers: Mapping[str, str]) -> tuple[str, str | None]:
    """The field name and the filename (if any) of a part's ``Content-Disposition``.

    Raises:
        MultipartError: the part has no ``form-data`` disposition with a name.
    """
    value = headers.get("content-disposition", "")
    kind, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(";" + rest):
        quoted, token = match.group(2), match.group(3)
        params[match.group(1).lower()] = _unquote(quoted) if quoted is not None else token
    if kind.strip().lower() != "form-data" or "name" not in params:
        raise MultipartError("a multipart part lacks a form-data Content-Disposition with a name")
    filename = params.get("filename")
    extended = params.get("filename*")
    if extended is not None and extended.count("'") >= 2:
        # RFC 5987: charset'language'percent-encoded-value
        charset, _, encoded = extended.split("'", 2)
        try:
            filename = urllib.parse.unquote(encoded, encoding=charset or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know, or one that is not text
            raise MultipartError(f"unknown charset {charset!r} in filename*") from None
    return params["name"], filename


def _unquote(quoted: str) -> str:
    """The value of a quoted parameter: backslash escapes, then the WHATWG percent escapes."""
    unescaped = re.sub(r"\\(.)", r"\1", quoted)
    return _FORM_ESCAPE.sub(lambda match: _FORM_ESCAPES[match.group(0).upper()], unescaped)


@attrs.frozen
class Part:
    """A part of the form being read."""

    name: str
    """The form field's name."""
    filename: str | None
    """The filename the client gave, for file fields; metadata only, never a path."""
    content_type: str | None
    """The part's own ``Content-Type``, if it had one."""


class FormReader:
    """Reads a request's form part by part, each part's body as a stream of chunks.

    Args:
        stream: The body.
        boundary: The form's boundary.
        idle_timeout: The longest wait for the next bytes of the body; None waits for ever.
    """

    def __init__(self, stream: StreamReader, boundary: bytes, idle_timeout: float | None = None):
        self._stream = stream
        self._idle_timeout = idle_timeout
        self._parser = MultipartParser(boundary)
        self._events: deque[Event] = deque()
        self._done = False

    @classmethod
    def of(cls, request: web.Request, idle_timeout: float | None = None) -> FormReader:
        """A reader of ``request``'s body that waits at most ``idle_timeout`` for its bytes.

        Raises:
            ApiError: 400 when the request is not ``multipart/form-data``.
        """
        boundary = boundary_of(request.headers.get("Content-Type", ""))
        return cls(request.content, boundary, idle_timeout)

    async def _next_event(self) -> Event:
        while not self._events:
            try:
                async with asyncio.timeout(self._idle_timeout):
                    data = await self._stream.readany()
            except (ClientPayloadError, ConnectionError):
                raise bad_request("The request body ended before it was complete.") from None
            except TimeoutError:
                assert self._idle_timeout is not None
                raise timed_out(self._idle_timeout) from None
            try:
                self._events.extend(self._parser.feed(data) if data else self._parser.close())
            except MultipartError as error:
                raise bad_request(f"Malformed multipart body: {error}.") from None
        return self._events.popleft()

    async def next_part(self) -> Part | None:
        """The next part, skipping what is left of the current one; None after the last part.

        Raises:
            ApiError: 400 when the body is malformed; 408 when the client stalls.
        """
        while not self._done:
            event = await self._next_event()
            if isinstance(event, FormEnd):
                self._done = True
            elif isinstance(event, PartStart):
                try:
                    name, filename = disposition(event.headers)
                except MultipartError as error:
                    raise bad_request(f"Malformed multipart body: {error}.") from None
                return Part(name, filename, event.headers.get("content-type"))
        return None

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body of the current part, chunk by chunk.

        Raises:
            ApiError: 400 when the body is malformed.
        """
        while True:
            event = await self._next_event()
            if isinstance(event, PartData):
                yield event.data
            else:
                # Only PartEnd can follow a part's data.
                return

    async def text(self, name: str, limit: int = 4096) -> str:
        """The current part's body as text, of at most ``limit`` bytes.

        Raises:
            ApiError: 400 when the value is too long, not UTF-8, or the body is malformed.
        """
        value = bytearray()
        async for chunk in self.chunks():
            value += chunk
            if len(value) > limit:
                raise bad_request(f"The form field {name!r} is too long.", name)
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_request(f"The form field {name!r} is not valid UTF-8.", name) from None
