"""The one cattrs converter that turns JSON into models and models into JSON."""

from __future__ import annotations

import inspect
import itertools
import math
import operator
import types
import typing
from collections.abc import Callable
from typing import Any, Final, TypeVar

import attrs
import cattrs
from attrs import Factory
from cattrs.gen import make_dict_structure_fn

T = TypeVar("T")


def _exactly(kind: type, *, or_none: bool = False) -> Callable[[Any, Any], Any]:
    """A structure hook that takes a JSON scalar of ``kind`` (or null, with ``or_none``) as it
    is, and refuses any other."""
    # NOTE: bool is an int in Python, never in JSON; an int is a fine float.
    accepted = (int, float) if kind is float else (kind,)
    refused = () if kind is bool else (bool,)

    def structure(value: Any, _: Any) -> Any:
        # NOTE: JSON gives the exact type: that case is tested first (one per field of every
        # model read).
        if value.__class__ is kind or (value is None and or_none):
            return value
        if isinstance(value, accepted) and not isinstance(value, refused):
            return value
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__} {value!r}")

    return structure


#: The most combinations of JSON types a flat model's fields may take together (see
#: ``_flat_hook``); a model with more is read field by field.
_FLAT_COMBINATIONS: Final = 256


def field_json_types(annotation: Any) -> tuple[type, ...] | None:
    """The types of the JSON values that a field of this type takes as they are (an int is a
    fine float); None when the field is no scalar (or null)."""
    options = typing.get_args(annotation) if type(annotation) is types.UnionType else ()
    if options and (len(options) != 2 or type(None) not in options):
        return None  # NOTE: the converter has hooks for ``kind`` and ``kind | None`` only
    found: list[type] = []
    for option in options or (annotation,):
        if option not in (str, int, float, bool, type(None)):
            return None
        found += [int, float] if option is float else [option]
    return tuple(found)


def _flat_hook(cls: type, converter: cattrs.Converter) -> Callable[[Any, Any], Any] | None:
    """A structure hook for a model of scalars only (a file, a Part), in one pass: the object's
    values are taken by name (defaults for those missing) and their JSON types checked against
    the combinations the fields allow at once. Anything else (a missing or mistyped field, no
    object at all) goes through cattrs' own hook, which reports what is wrong. None when the
    model is not such a one."""
    if not attrs.has(cls):
        return None
    fields = attrs.fields(attrs.resolve_types(cls))
    allowed_types: list[tuple[type, ...]] = []
    for field in fields:
        json_types = field_json_types(field.type)
        if json_types is None or not field.init or field.kw_only or field.alias != field.name:
            return None
        if isinstance(field.default, Factory):  # type: ignore[arg-type]
            return None
        allowed_types.append(json_types)
    if len(fields) < 2 or math.prod(len(t) for t in allowed_types) > _FLAT_COMBINATIONS:
        return None
    # NOTE: the values go to ``__init__`` by position: only one that takes the fields in order.
    parameters = list(inspect.signature(cls).parameters.values())
    if [(p.name, p.kind) for p in parameters] != [
        (f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for f in fields
    ]:
        return None
    detailed = make_dict_structure_fn(cls, converter)
    allowed = frozenset(itertools.product(*allowed_types))
    defaults = {f.name: f.default for f in fields if f.default is not attrs.NOTHING}
    pick = operator.itemgetter(*(f.name for f in fields))

    def structure(data: Any, _: Any) -> Any:
        if data.__class__ is dict:
            try:
                values = pick(data)
            except KeyError:
                # NOTE: an answer usually holds every field: the defaults are merged in only
                # when one is missing.
                try:
                    values = pick({**defaults, **data})
                except KeyError:
                    values = None  # a required field is missing: cattrs says which
            if values is not None and tuple(map(type, values)) in allowed:
                try:
                    return cls(*values)
                except Exception:
                    pass  # NOTE: a validator refused a value: cattrs reports it its way
        return detailed(data, cls)

    return structure


def _make_converter() -> cattrs.Converter:
    # NOTE: responses are read leniently in their shape (unknown keys are ignored, and the
    # fields the server may extend are plain ``str``, so a new purpose or status never breaks
    # us) but strictly in their scalars: cattrs would turn null into "None", "false" into True
    # and 1.7 into 1, hiding a broken answer behind a plausible one.
    converter = cattrs.Converter(forbid_extra_keys=False)
    for kind in (str, int, float, bool):
        converter.register_structure_hook(kind, _exactly(kind))
        # NOTE: one hook for ``kind | None``: cattrs' own looks the hook of ``kind`` up again
        # for every value.
        converter.register_structure_hook(kind | None, _exactly(kind, or_none=True))
    # NOTE: the models of scalars only are read once per file of a batch or a listing: read
    # in one pass, for the same result (the same model, or the same error).
    flat_hooks: dict[type, Callable[[Any, Any], Any] | None] = {}

    def is_flat(cls: Any) -> bool:
        if cls not in flat_hooks:
            flat_hooks[cls] = _flat_hook(cls, converter) if isinstance(cls, type) else None
        return flat_hooks[cls] is not None

    def flat_hook(cls: Any) -> Callable[[Any, Any], Any]:
        hook = flat_hooks[cls]
        assert hook is not None
        return hook

    converter.register_structure_hook_factory(is_flat, flat_hook)
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
