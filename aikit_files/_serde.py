"""The one cattrs converter that turns JSON into models and models into JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import cattrs

T = TypeVar("T")


def _exactly(kind: type[T]) -> Callable[[Any, type[T]], T]:
    """A structure hook that takes a JSON scalar of ``kind`` as it is, and refuses any other."""
    # NOTE: bool is an int in Python, never in JSON; an int is a fine float.
    accepted = (int, float) if kind is float else (kind,)
    refused = () if kind is bool else (bool,)

    def structure(value: T, _: type[T]) -> T:
        if isinstance(value, accepted) and not isinstance(value, refused):
            return value
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__} {value!r}")

    return structure


def _or_none(hook: Callable[[Any, type[T]], T]) -> Callable[[Any, Any], T | None]:
    """The hook of ``kind | None`` from that of ``kind``: cattrs' own looks the hook of
    ``kind`` up again for every value."""

    def structure(value: Any, cls: Any) -> T | None:
        return None if value is None else hook(value, cls)

    return structure


def _make_converter() -> cattrs.Converter:
    # NOTE: responses are read leniently in their shape (unknown keys are ignored, and the
    # fields the server may extend are plain ``str``, so a new purpose or status never breaks
    # us) but strictly in their scalars: cattrs would turn null into "None", "false" into True
    # and 1.7 into 1, hiding a broken answer behind a plausible one.
    converter = cattrs.Converter(forbid_extra_keys=False)
    for kind in (str, int, float, bool):
        hook = _exactly(kind)
        converter.register_structure_hook(kind, hook)
        converter.register_structure_hook(kind | None, _or_none(hook))
    return converter


converter = _make_converter()


def structure(data: Any, cls: type[T]) -> T:
    """Builds a model from decoded JSON.

    Raises:
        cattrs.ClassValidationError: the JSON lacks a required field or has one of the wrong type
            (a JSON scalar of another type is never converted).
    """
    return converter.structure(data, cls)


def unstructure(obj: object) -> Any:
    """Turns a model into JSON-ready data (``None`` fields included)."""
    return converter.unstructure(obj)


def describe_error(exc: Exception) -> list[str]:
    """What a failed ``structure`` found wrong, one line per problem, with where it is (the
    values themselves are left out)."""
    try:
        return cattrs.transform_error(exc)
    except Exception:
        return [type(exc).__name__]
