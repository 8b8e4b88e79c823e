"""The one cattrs converter that turns JSON into models and models into JSON."""

from __future__ import annotations

from typing import Any, TypeVar

import cattrs

from ._models import FileDeleted, FileList, OpenAIFile, Upload, UploadPart

T = TypeVar("T")


def _make_converter() -> cattrs.Converter:
    # NOTE: responses are read leniently: unknown keys are ignored (cattrs' default) and the
    # fields the server may extend are plain ``str``, so a new purpose or status never breaks us.
    converter = cattrs.Converter(forbid_extra_keys=False)
    return converter


converter = _make_converter()

#: The models the API returns as JSON objects.
WIRE_MODELS = (OpenAIFile, FileList, FileDeleted, Upload, UploadPart)


def structure(data: Any, cls: type[T]) -> T:
    """Builds a model from decoded JSON.

    Raises:
        cattrs.ClassValidationError: the JSON lacks a required field or has one of the wrong type.
    """
    return converter.structure(data, cls)


def unstructure(obj: object) -> Any:
    """Turns a model into JSON-ready data (``None`` fields included)."""
    return converter.unstructure(obj)
