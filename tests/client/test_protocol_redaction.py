"""The redactor, without I/O: decoded JSON and models are searched string by string (keys of
objects, nested models), clean values come back as the same objects, and a body nested too
deeply to search is shown as nothing rather than raising."""

from __future__ import annotations

import json

import aikit_files as af
from aikit_files._protocol.redaction import REDACTED, TOO_DEEP, Redactor

KEY = "sk-redact/Zq8vQ2xW7tLp0"


def test_every_string_of_decoded_json_is_redacted_keys_included() -> None:
    decoded = json.loads(
        json.dumps({"a": [f"x {KEY}", {KEY: 1}], "b": ("t", KEY)}).replace("/", "\\/")
    )
    redacted = Redactor(KEY).value(decoded)
    assert KEY not in repr(redacted)
    assert redacted["a"][0] == f"x {REDACTED}"
    assert redacted["a"][1] == {REDACTED: 1}


def test_a_clean_value_is_the_same_object() -> None:
    decoded = {"a": ["b", {"c": 1}]}
    assert Redactor(KEY).value(decoded) is decoded
    page = af.FileList(data=[af.OpenAIFile(id="file-1", bytes=1, created_at=1, filename="a",
                                          purpose="batch")])  # fmt: skip
    assert Redactor(KEY).model(page) is page


def test_models_are_redacted_however_deep() -> None:
    file = af.OpenAIFile(id=KEY, bytes=1, created_at=1, filename=f"{KEY}.txt", purpose="batch",
                         status_details=KEY)  # fmt: skip
    page = Redactor(KEY).model(af.FileList(data=[file], first_id=KEY, last_id="file-2"))
    assert KEY not in repr(page)
    assert page.data[0].filename == f"{REDACTED}.txt"
    assert page.last_id == "file-2"
    upload = Redactor(KEY).model(
        af.Upload(
            id="upload-1",
            bytes=1,
            created_at=1,
            filename="a",
            purpose="batch",
            status="completed",
            expires_at=2,
            file=file,
        )
    )
    assert KEY not in repr(upload)


def test_bytes_and_paths_given_as_models_values_are_left_alone() -> None:
    # A file's content is the user's data: model() does not touch it.
    content = f"data {KEY}".encode()
    assert Redactor(KEY).model(content) is content


def test_a_body_nested_too_deeply_to_search_shows_as_nothing() -> None:
    decoded: object = KEY
    for _ in range(5000):
        decoded = [decoded]
    assert Redactor(KEY).value(decoded) == TOO_DEEP


def test_without_a_key_nothing_changes() -> None:
    decoded = {"a": KEY}
    assert Redactor(None).value(decoded) is decoded
    assert Redactor("").model(decoded) is decoded


def test_each_text_field_of_a_flat_model_is_searched() -> None:
    # A file and a Part hold only texts and numbers: their texts are searched at once.
    for field in ("id", "filename", "purpose", "object", "status", "status_details"):
        file = af.OpenAIFile(**{"id": "file-1", field: f"a {KEY} b"})  # type: ignore[arg-type]
        assert getattr(Redactor(KEY).model(file), field) == f"a {REDACTED} b"
    part = Redactor(KEY).model(af.UploadPart(id="part-1", upload_id=KEY))
    assert part.upload_id == REDACTED
    clean = af.OpenAIFile(id="file-1", filename="a", status_details="b")
    assert Redactor(KEY).model(clean) is clean


def test_a_field_holding_what_its_type_does_not_say_is_still_searched() -> None:
    # Built by hand, not read from JSON: a list where a text is expected, a text or a list
    # where a number is.
    wrong: dict[str, object] = {"filename": [KEY], "bytes": KEY, "created_at": [KEY]}
    for field, value in wrong.items():
        file = af.OpenAIFile(**{"id": "file-1", field: value})  # type: ignore[arg-type]
        redacted: object = getattr(Redactor(KEY).model(file), field)
        assert redacted == ([REDACTED] if isinstance(value, list) else REDACTED)


def test_a_text_of_a_subclass_of_str_is_searched() -> None:
    class Text(str):
        pass

    file = af.OpenAIFile(id="file-1", filename=Text(f"a {KEY}"))
    assert KEY not in Redactor(KEY).model(file).filename
