"""The keyword options' TypedDicts (``_params``) in lock-step with the Parameters classes: the
same names, with the same types, so that what a type checker accepts is what a call takes."""

from __future__ import annotations

import collections.abc
import inspect
import typing
from typing import Any

import attrs
import pytest

import aikit_files as af
from aikit_files import _params

#: Each Parameters class, its options (for the async API) and its blocking options (the sync
#: twin's blocking form: no callbacks).
TWINS = [
    (af.Parameters, _params.Options, _params.BlockingOptions),
    (af.FileParameters, _params.FileOptions, _params.BlockingFileOptions),
    (af.DownloadParameters, _params.DownloadOptions, _params.BlockingDownloadOptions),
    (af.FileListParameters, _params.FileListOptions, _params.BlockingFileListOptions),
]
CALLBACKS = {"on_terminate", "on_response", "on_error"}
#: Where an option takes more than its field holds once checked: ``validate`` turns a mapping
#: into an ``ExpiresAfter``.
WIDER = {"expires_after": collections.abc.Mapping[str, Any]}


@pytest.fixture(autouse=True)
def result_in_params(monkeypatch: pytest.MonkeyPatch) -> None:
    # ``Callback`` names ``Result``, which _params imports for type checkers only; the
    # TypedDicts' hints are read in their module's namespace.
    monkeypatch.setattr(_params, "Result", af.Result, raising=False)


def field_types(cls: type[af.Parameters]) -> dict[str, object]:
    attrs.resolve_types(cls, globalns=vars(_params))
    types: dict[str, object] = {}
    for field in attrs.fields(cls):
        declared = field.type
        if field.name in WIDER:
            declared = declared | WIDER[field.name]
        types[field.name] = declared
    return types


def option_types(options: type) -> dict[str, object]:
    return typing.get_type_hints(options)


def union_members(declared: object) -> set[object]:
    return set(typing.get_args(declared)) or {declared}


@pytest.mark.parametrize(("cls", "options", "blocking"), TWINS)
def test_options_match_the_parameters_fields(cls: type, options: type, blocking: type) -> None:
    fields = field_types(cls)
    assert option_types(options).keys() == fields.keys()
    for name, declared in option_types(options).items():
        assert union_members(declared) == union_members(fields[name]), name
    assert option_types(blocking).keys() == fields.keys() - CALLBACKS
    assert all(
        option_types(blocking)[n] == option_types(options)[n] for n in option_types(blocking)
    )


def test_every_method_of_both_twins_takes_typed_options() -> None:
    apis = [af.AsyncFilesAPI, af.AsyncUploadsAPI, af.FilesAPI, af.UploadsAPI]
    for api in apis:
        for name, method in vars(api).items():
            if name.startswith("_") or not callable(method):
                continue
            options = inspect.signature(method).parameters["options"]
            assert options.annotation.startswith("Unpack["), (api, name)
    client = inspect.signature(af.AsyncClient.__init__).parameters["options"]
    assert client.annotation == "Unpack[ClientOptions]"
