"""The converter's one-pass hook for models of scalars only (a file, a Part, a deletion) gives
exactly what cattrs' own field-by-field hook gives: the same model, or the same errors."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from cattrs.gen import make_dict_structure_fn
from hypothesis import given
from hypothesis import strategies as st

import aikit_files as af
from aikit_files._serde import _flat_hook, converter, describe_error, structure

#: JSON values of every type, and a few Python ones JSON never gives.
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
    st.lists(st.integers(), max_size=2), st.just({"a": 1}),
)  # fmt: skip
FLAT_MODELS = [af.OpenAIFile, af.UploadPart, af.FileDeleted]


def _outcome(read: Any, data: object, cls: type) -> object:
    try:
        return read(data, cls)
    except Exception as exc:
        return describe_error(exc)


def _valid(annotation: Any) -> st.SearchStrategy[Any]:
    """Values JSON gives for a field of this type."""
    kinds = {str: st.text(max_size=5), int: st.integers(), float: st.integers() | st.floats(),
             bool: st.booleans(), type(None): st.none()}  # fmt: skip
    options = getattr(annotation, "__args__", (annotation,))
    return st.one_of(*(kinds[option] for option in options))


@pytest.mark.parametrize("cls", FLAT_MODELS)
@given(data=st.data())
def test_the_one_pass_hook_reads_as_cattrs_does(cls: type, data: st.DataObject) -> None:
    fields = attrs.fields(attrs.resolve_types(cls))
    # A valid object (optional fields left out or not, keys the model has not too), then one
    # field of it left out or given a value of any type, or none changed.
    obj: dict[str, Any] = {"extra": data.draw(VALUES)}
    for field in fields:
        if field.default is attrs.NOTHING or data.draw(st.booleans()):
            obj[field.name] = data.draw(_valid(field.type))
    changed = data.draw(st.sampled_from([None, *(f.name for f in fields)]))
    if changed is not None:
        if data.draw(st.booleans()):
            obj.pop(changed, None)
        else:
            obj[changed] = data.draw(VALUES)
    expected = _outcome(make_dict_structure_fn(cls, converter), obj, cls)
    assert _outcome(lambda d, c: structure(d, c), obj, cls) == expected


@pytest.mark.parametrize("data", [None, [], "file", 1])
def test_what_is_no_object_is_refused_as_cattrs_does(data: object) -> None:
    with pytest.raises((TypeError, ExceptionGroup)) as caught:
        structure(data, af.OpenAIFile)
    expected = _outcome(make_dict_structure_fn(af.OpenAIFile, converter), data, af.OpenAIFile)
    assert describe_error(caught.value) == expected


def test_models_of_more_than_scalars_are_read_by_cattrs() -> None:
    # A page holds files, an Upload its file, a check result nested models.
    assert _flat_hook(af.FileList, converter) is None
    assert _flat_hook(af.Upload, converter) is None
    assert _flat_hook(af.OpenAIFile, converter) is not None
    page = structure({"data": [{"id": "file-1", "bytes": 3}], "has_more": True}, af.FileList)
    assert page.data == [af.OpenAIFile(id="file-1", bytes=3)]


@attrs.frozen
class _Checked:
    name: str
    count: int = attrs.field(default=0, validator=attrs.validators.ge(0))


@attrs.define(init=False)
class _OwnInit:
    name: str
    kind: str

    def __init__(self, kind: str, name: str) -> None:
        self.name, self.kind = name, kind


@attrs.frozen
class _Either:
    name: str
    size: int | str


def test_a_validators_refusal_is_reported_as_cattrs_does() -> None:
    assert _flat_hook(_Checked, converter) is not None
    assert structure({"name": "a", "count": 2}, _Checked) == _Checked("a", 2)
    expected = _outcome(make_dict_structure_fn(_Checked, converter), {"name": "a", "count": -1},
                        _Checked)  # fmt: skip
    assert _outcome(structure, {"name": "a", "count": -1}, _Checked) == expected
    with pytest.raises(ExceptionGroup):
        structure({"name": "a", "count": -1}, _Checked)


def test_models_an_init_of_their_own_or_unions_are_read_by_cattrs() -> None:
    # Values by position would go to the wrong fields; cattrs has no hook for int | str.
    assert _flat_hook(_OwnInit, converter) is None
    assert structure({"name": "n", "kind": "k"}, _OwnInit).name == "n"
    assert _flat_hook(_Either, converter) is None
