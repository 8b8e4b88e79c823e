"""Keeps the API key out of everything made from a response: a server may echo it anywhere
(an error body, a success body, a non-JSON answer, a header, a redirect's Location), and JSON
may spell it with escapes (``\\u0073k-``, ``\\/``) that only decoding undoes, so decoded values
and the models built from them are redacted, not only the bytes."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import attrs

from aikit_files._exceptions import APIError
from aikit_files._serde import field_json_types

E = TypeVar("E", bound=APIError)
T = TypeVar("T")

#: What the key is replaced by.
REDACTED: Final = "[redacted]"
#: What stands for a decoded body too deeply nested to be searched for the key.
TOO_DEEP: Final = "[a body nested too deeply to show]"


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
        # NOTE: searched at once: joined by a character no header value holds.
        return secret in "\n".join(headers.values())

    def value(self, value: Any) -> Any:
        """Decoded JSON (or text, or bytes) with the secret replaced in every string, keys of
        objects included; the same object when nothing held it."""
        if not self._text:
            return value
        if isinstance(value, bytes):
            return self.bytes(value)
        try:
            return self._walk(value)
        except RecursionError:
            # NOTE: JSON nested almost as deep as the decoder allows; it is shown as nothing.
            return TOO_DEEP

    def model(self, value: T) -> T:
        """A call's value with the secret replaced in every string field of its models, however
        deep (a page's files, an Upload's file); the same object when nothing held it.

        Bytes (a file's content) and paths are the caller's data, left as they are.
        """
        if not self._text:
            return value
        walked: T = self._walk(value)
        return walked

    def _walk(self, value: Any) -> Any:
        # NOTE: run on every model a call returns: the common kinds are tested first, by
        # type, and nothing is rebuilt unless a string changed.
        kind = type(value)
        if kind is str:
            return self.text(value)
        if value is None or kind in _SCALARS:
            return value
        if kind is list or kind is tuple:
            items = [self._walk(item) for item in value]
            if all(new is old for new, old in zip(items, value, strict=True)):
                return value
            return tuple(items) if kind is tuple else items
        if isinstance(value, str):  # a subclass of str
            return self.text(value)
        fields = _init_fields(kind)
        if fields is None:
            if isinstance(value, Mapping):
                pairs = [(self._walk(k), self._walk(v)) for k, v in value.items()]
                unchanged = all(
                    new[0] is k and new[1] is v
                    for new, (k, v) in zip(pairs, value.items(), strict=True)
                )
                return value if unchanged else dict(pairs)
            return value
        secret = self._text
        flat = _flat_getters(kind)
        if flat is not None and secret:
            # NOTE: a model of texts and numbers (a file, a Part) whose values are what its
            # fields say is searched at once, its texts joined; any other goes field by field.
            texts, numbers = flat[0](value), flat[1](value)
            if (
                _NUMBER_TYPES.issuperset(map(type, numbers))
                and _TEXT_TYPES.issuperset(map(type, texts))
                and secret not in "\0".join(filter(None, texts))
            ):
                return value
        changes: dict[str, Any] = {}
        for name, alias in fields:
            old = getattr(value, name)
            kind = type(old)
            if kind is str:
                if secret and secret in old:
                    changes[alias] = self.text(old)
            elif old is not None and kind not in _SCALARS:
                new = self._walk(old)
                if new is not old:
                    changes[alias] = new
        return attrs.evolve(value, **changes) if changes else value

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


#: Values that hold no text.
_SCALARS: Final = frozenset({int, float, bool})
#: The fields set by ``__init__`` of each attrs class met (name, and its argument's name);
#: None for a class that is not an attrs class.
_FIELDS: dict[type, tuple[tuple[str, str], ...] | None] = {}


def _init_fields(cls: type) -> tuple[tuple[str, str], ...] | None:
    try:
        return _FIELDS[cls]
    except KeyError:
        pass
    found = (
        tuple((f.name, f.alias) for f in attrs.fields(cls) if f.init) if attrs.has(cls) else None
    )
    _FIELDS[cls] = found
    return found


#: Each attrs class met: the getters of its text fields' values and of its number fields'
#: values, if its ``__init__`` fields are all declared so (a file, a Part); else None.
_FLAT: dict[
    type, tuple[Callable[[Any], tuple[Any, ...]], Callable[[Any], tuple[Any, ...]]] | None
] = {}
#: The exact types of a text field's value and a number field's, for the search at once.
_TEXT_TYPES: Final = frozenset({str, type(None)})
_NUMBER_TYPES: Final = frozenset({int, float, bool, type(None)})


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The values of ``names`` of an object, as a tuple (whatever their number)."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    return lambda value: tuple(getattr(value, name) for name in names)


def _flat_getters(
    cls: type,
) -> tuple[Callable[[Any], tuple[Any, ...]], Callable[[Any], tuple[Any, ...]]] | None:
    try:
        return _FLAT[cls]
    except KeyError:
        pass
    try:
        fields = [f for f in attrs.fields(attrs.resolve_types(cls)) if f.init]
    except Exception:  # a type that cannot be resolved: the class goes field by field
        fields = []
    found = None
    # NOTE: fields declared as the converter's scalars: texts, and numbers (or null).
    texts: list[str] = []
    numbers: list[str] = []
    for field in fields:
        json_types = field_json_types(field.type)
        if json_types is None:
            break
        (texts if str in json_types else numbers).append(field.name)
    else:
        found = (_getter(texts), _getter(numbers)) if fields else None
    _FLAT[cls] = found
    return found


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
