"""Multipart framing: exact length, field order, safe filenames, content types; pure."""

from __future__ import annotations

import email.parser
import email.policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

import aikit_files as af
from aikit_files._protocol.multipart import (
    build_form,
    form_fields,
    guess_content_type,
    quote_param,
)


def parse(content_type: str, body: bytes) -> list[tuple[str, str | None, bytes]]:
    """(name, filename, payload) of each part, read back by the standard library's parser."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        name = part.get_param("name", header="content-disposition")
        parts.append((str(name), part.get_filename(), payload))
    return parts


def test_fields_come_first_in_order() -> None:
    fields = form_fields("batch", af.ExpiresAfter(seconds=3600))
    assert fields == [
        ("purpose", "batch"),
        ("expires_after[anchor]", "created_at"),
        ("expires_after[seconds]", "3600"),
    ]
    form = build_form(fields, filename="data.jsonl", content_type="text/jsonl")
    body = form.head + b'{"a": 1}\n' + form.tail
    assert parse(form.content_type, body) == [
        ("purpose", None, b"batch"),
        ("expires_after[anchor]", None, b"created_at"),
        ("expires_after[seconds]", None, b"3600"),
        ("file", "data.jsonl", b'{"a": 1}\n'),
    ]
    assert b"Content-Type: text/jsonl\r\n" in form.head


def test_without_expiry_only_purpose_is_sent() -> None:
    assert form_fields("assistants", None) == [("purpose", "assistants")]


@given(
    purpose=st.text(min_size=1, max_size=30),
    filename=st.text(min_size=1, max_size=60),
    seconds=st.none() | st.integers(3600, 2_592_000),
    data=st.binary(max_size=5000),
)
def test_length_is_exact(purpose: str, filename: str, seconds: int | None, data: bytes) -> None:
    expires = None if seconds is None else af.ExpiresAfter(seconds=seconds)
    form = build_form(
        form_fields(purpose, expires), filename=filename, content_type="application/octet-stream"
    )
    body = form.head + data + form.tail
    assert form.content_length(len(data)) == len(body)
    assert form.content_length(None) is None
    # The framing holds whatever the names: the file part comes back intact.
    assert parse(form.content_type, body)[-1][2] == data


def test_boundaries_are_random() -> None:
    first = build_form([], filename="a", content_type="text/plain")
    second = build_form([], filename="a", content_type="text/plain")
    assert first.boundary != second.boundary


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("plain.txt", '"plain.txt"'),
        ('say "hi".txt', '"say %22hi%22.txt"'),
        ("back\\slash", '"back\\\\slash"'),
        ("line\r\nbreak", '"line%0D%0Abreak"'),
        ("naïve.pdf", '"naïve.pdf"'),
    ],
)
def test_filenames_are_quoted_safely(name: str, quoted: str) -> None:
    assert quote_param(name) == quoted


@given(st.text(min_size=1, max_size=60))
def test_quoted_filename_stays_on_one_header_line(name: str) -> None:
    quoted = quote_param(name)
    assert not {"\r", "\n"} & set(quoted)
    assert quoted.count('"') == 2


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("train.jsonl", "text/jsonl"),
        ("TRAIN.JSONL", "text/jsonl"),
        ("data.json", "application/json"),
        ("notes.md", "text/markdown"),
        ("report.pdf", "application/pdf"),
        ("picture.png", "image/png"),
        ("table.csv", "text/csv"),
        ("archive.tar.gz", "application/octet-stream"),
        ("no_extension", "application/octet-stream"),
        ("file", "application/octet-stream"),
    ],
)
def test_content_type_from_filename(filename: str, content_type: str) -> None:
    assert guess_content_type(filename) == content_type
