"""Checks of the Files API's own arguments (purpose, content_url, destination), before any I/O."""

from __future__ import annotations

import os
import pathlib
import urllib.parse

from ._exceptions import InvalidArgumentError, InvalidArgumentTypeError
from ._io.sinks import NAME_MAX


def check_purpose(purpose: object) -> None:
    """Refuses a ``purpose`` that is not a string, or is empty."""
    if not isinstance(purpose, str):
        raise InvalidArgumentTypeError(f"purpose must be a string, not {type(purpose).__name__}")
    if not purpose:
        raise InvalidArgumentError("purpose must not be empty")


def check_url(url: object) -> None:
    """Refuses a ``content_url`` that is not an http or https URL with a host."""
    if not isinstance(url, str):
        raise InvalidArgumentTypeError(f"content_url must be a string, not {type(url).__name__}")
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise InvalidArgumentError(f"content_url is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        # NOTE: the URL is not repeated: its query may hold a secret (a SAS token).
        raise InvalidArgumentError("content_url must be an http:// or https:// URL with a host")


def check_destination(destination: object) -> pathlib.Path:
    """The path a download writes to: a file name that fits, in a directory that exists."""
    if not isinstance(destination, str | os.PathLike):
        raise InvalidArgumentTypeError(
            f"destination must be a path (str or os.PathLike), not {type(destination).__name__}"
        )
    text = os.fsdecode(destination)
    if not text:
        raise InvalidArgumentError("destination: the path is empty")
    if "\0" in text:
        raise InvalidArgumentError(f"destination: the path holds a NUL character: {text!r}")
    path = pathlib.Path(text)
    if len(os.fsencode(path.name)) > NAME_MAX:
        raise InvalidArgumentError(
            f"destination: the file name is longer than {NAME_MAX} bytes: {path.name[:40]!r}..."
        )
    if path.is_dir():
        raise InvalidArgumentError(f"destination: {str(path)!r} is a directory; name the file")
    if not path.parent.is_dir():
        raise InvalidArgumentError(
            f"destination: the directory {str(path.parent)!r} does not exist"
        )
    return path
