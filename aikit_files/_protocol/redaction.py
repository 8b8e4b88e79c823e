"""Keeps the API key out of everything made from a response: a server may echo it anywhere
(an error body, a non-JSON answer, a header, a redirect's Location)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, TypeVar

from aikit_files._exceptions import APIError

E = TypeVar("E", bound=APIError)

#: What the key is replaced by.
REDACTED: Final = "[redacted]"


class Redactor:
    """Blots one secret out of texts, bytes, headers, decoded JSON and our errors.

    Args:
        secret: the API key; None (or empty) redacts nothing.
    """

    def __init__(self, secret: str | None) -> None:
        self._text = secret or None
        self._bytes = secret.encode() if secret else None

    def __repr__(self) -> str:
        return "Redactor(...)"

    def text(self, value: str) -> str:
        """``value`` with the secret replaced."""
        return value.replace(self._text, REDACTED) if self._text and self._text in value else value

    def bytes(self, value: bytes) -> bytes:
        """``value`` with the secret replaced."""
        if self._bytes and self._bytes in value:
            return value.replace(self._bytes, REDACTED.encode())
        return value

    def holds_secret(self, headers: Mapping[str, str]) -> bool:
        """Whether some header value holds the secret."""
        secret = self._text
        if not secret:
            return False
        return any(secret in value for value in headers.values())

    def value(self, value: Any) -> Any:
        """Decoded JSON (or text) with the secret replaced in every string."""
        if not self._text:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.bytes(value)
        if isinstance(value, Mapping | list):
            encoded = json.dumps(value)
            return (
                json.loads(encoded.replace(self._text, REDACTED))
                if self._text in encoded
                else value
            )
        return value

    def error(self, error: E) -> E:
        """``error`` with the secret replaced in its message and body; a cause whose text holds
        the secret is dropped from the chain. The same object, changed (the caller redacts the
        headers of an ``APIStatusError``)."""
        secret = self._text
        if not secret:
            return error
        error.args = tuple(self.text(a) if isinstance(a, str) else a for a in error.args)
        for name in ("message", "code", "type", "param", "request_id"):
            text = getattr(error, name)
            if text is not None:
                setattr(error, name, self.text(text))
        error.body = self.value(error.body)
        if any(_shows(linked, secret) for linked in _chain(error)):
            error.__cause__ = error.__context__ = None
            error.__suppress_context__ = True
        return error


def _chain(error: BaseException) -> list[BaseException]:
    """The exceptions linked to ``error`` as causes or contexts, however deep."""
    found: list[BaseException] = []
    todo = [error.__cause__, error.__context__]
    while todo:
        linked = todo.pop()
        if linked is None or any(linked is seen for seen in found):
            continue
        found.append(linked)
        todo += [linked.__cause__, linked.__context__, *getattr(linked, "exceptions", ())]
    return found


def _shows(error: BaseException, secret: str) -> bool:
    """Whether an exception's text or attributes hold ``secret``."""
    return any(secret in text for text in (repr(error), str(error), repr(vars(error))))
