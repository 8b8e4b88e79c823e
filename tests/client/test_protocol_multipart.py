"""Multipart framing: exact length, field order, safe filenames, content types; pure."""

from __future__ import annotations

import email.parser
import email.policy
import enum
import os
import re
import warnings

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


class _Text(str, enum.Enum):  # noqa: UP042 (a StrEnum formats as its value; this does not)
    BATCH = "batch"
    JSONL = "text/jsonl"


def test_a_str_enum_goes_as_its_value() -> None:
    # A purpose or content type given as a str enum: its value is sent, not its name.
    form = build_form([("purpose", _Text.BATCH)], filename="a.jsonl", content_type=_Text.JSONL)
    assert parse(form.content_type, form.head + b"x" + form.tail)[0] == ("purpose", None, b"batch")
    assert b"Content-Type: text/jsonl\r\n" in form.head
    assert b"_Text" not in form.head


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


def test_the_framing_byte_for_byte() -> None:
    form = build_form(
        [("purpose", "batch"), ("expires_after[seconds]", "3600")],
        filename="d.jsonl",
        content_type="text/jsonl",
        boundary="XyZ",
    )
    assert form.boundary == "XyZ"
    assert form.content_type == "multipart/form-data; boundary=XyZ"
    assert form.head == (
        b'--XyZ\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="expires_after[seconds]"\r\n\r\n'
        b"3600\r\n"
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="d.jsonl"\r\n'
        b"Content-Type: text/jsonl\r\n\r\n"
    )
    assert form.tail == b"\r\n--XyZ--\r\n"


def test_the_file_part_may_have_another_name() -> None:
    form = build_form([], file_field="data", filename="a.bin", content_type="x/y", boundary="b")
    assert form.head == (
        b'--b\r\nContent-Disposition: form-data; name="data"; filename="a.bin"\r\n'
        b"Content-Type: x/y\r\n\r\n"
    )


def test_content_length_with_and_without_a_size() -> None:
    form = build_form([("purpose", "batch")], filename="a.txt", content_type="text/plain")
    framing = len(form.head) + len(form.tail)
    assert form.content_length(0) == framing
    assert form.content_length(1) == framing + 1
    assert form.content_length(512 * 1024 * 1024) == framing + 512 * 1024 * 1024
    # an async iterable's size is unknown: the body goes chunked, without a length
    assert form.content_length(None) is None


def test_text_goes_as_utf_8() -> None:
    form = build_form([("purpose", "naïve ✓")], filename="café.txt", content_type="text/plain")
    assert b"\r\n\r\nna\xc3\xafve \xe2\x9c\x93\r\n" in form.head
    assert b'filename="caf\xc3\xa9.txt"' in form.head


def test_a_lone_surrogate_becomes_a_question_mark() -> None:
    # What os.fsdecode makes of a name that is not UTF-8 on disk: b"caf\xe9.txt".
    filename = os.fsdecode(b"caf\xe9.txt")
    assert filename == "caf\udce9.txt"
    form = build_form([("purpose", "odd\udc80one")], filename=filename, content_type="text/plain")
    assert b"\r\n\r\nodd?one\r\n" in form.head
    assert b'filename="caf?.txt"\r\n' in form.head
    body = form.head + b"data" + form.tail
    assert form.content_length(4) == len(body)
    assert parse(form.content_type, body) == [
        ("purpose", None, b"odd?one"),
        ("file", "caf?.txt", b"data"),
    ]


def test_boundaries_are_random() -> None:
    first = build_form([], filename="a", content_type="text/plain")
    second = build_form([], filename="a", content_type="text/plain")
    assert first.boundary != second.boundary
    # RFC 2046: at most 70 characters; these need no quoting in the Content-Type header.
    for boundary in (first.boundary, second.boundary):
        assert re.fullmatch(r"[0-9a-f]{32,70}", boundary)


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("plain.txt", '"plain.txt"'),
        ('say "hi".txt', '"say %22hi%22.txt"'),
        ("back\\slash", '"back\\\\slash"'),
        ("line\r\nbreak", '"line%0D%0Abreak"'),
        ("nul\x00tab\tunit\x1f", '"nul%00tab%09unit%1F"'),
        ("del\x7f", '"del%7F"'),
        ("esc\x1b[0m", '"esc\x1b[0m"'),
        ("semi;colon=equals 'single'", "\"semi;colon=equals 'single'\""),
        ("%22 stays", '"%22 stays"'),
        ("naïve.pdf", '"naïve.pdf"'),
    ],
)
def test_filenames_are_quoted_safely(name: str, quoted: str) -> None:
    assert quote_param(name) == quoted


def expected_quoting(char: str) -> str:
    """The WHATWG form encoding of one character in a quoted parameter, as httpx does it, plus
    DEL: C0 controls but ESC, DEL and ``"`` are percent-encoded, ``\\`` is escaped."""
    if char == '"':
        return "%22"
    if char == "\\":
        return "\\\\"
    if (ord(char) < 0x20 and char != "\x1b") or char == "\x7f":
        return f"%{ord(char):02X}"
    return char


def test_the_quoting_of_every_ascii_character() -> None:
    ascii_chars = [chr(code) for code in range(0x80)]
    assert {c: quote_param(c) for c in ascii_chars} == {
        c: f'"{expected_quoting(c)}"' for c in ascii_chars
    }


@pytest.mark.parametrize("char", ["\x80", "\x9f", "é", "\u2028", "日", "\U0001f600", "\ufeff"])
def test_characters_beyond_ascii_are_kept(char: str) -> None:
    assert quote_param(char) == f'"{char}"'


def test_an_empty_value_is_quoted() -> None:
    assert quote_param("") == '""'


@given(st.text(max_size=60))
def test_quoting_is_per_character(name: str) -> None:
    assert quote_param(name) == '"' + "".join(expected_quoting(c) for c in name) + '"'


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
        ("notes.txt", "text/plain"),
        ("REPORT.PDF", "application/pdf"),
        ("Deck.PPTX", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        ("sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("main.go", "text/x-golang"),
        ("index.ts", "application/typescript"),
        # known only to the non-strict table
        ("photo.webp", "image/webp"),
        ("letter.rtf", "application/rtf"),
        # compressed: an opaque blob, whatever is inside
        ("archive.tar.gz", "application/octet-stream"),
        ("train.jsonl.gz", "application/octet-stream"),
        ("notes.txt.bz2", "application/octet-stream"),
        ("table.csv.xz", "application/octet-stream"),
        ("data.json.br", "application/octet-stream"),
        ("plain.gz", "application/octet-stream"),
        # unknown
        ("weights.safetensors", "application/octet-stream"),
        ("train.jsonlx", "application/octet-stream"),
        ("trailing.", "application/octet-stream"),
        ("no_extension", "application/octet-stream"),
        ("file", "application/octet-stream"),
    ],
)
def test_content_type_from_filename(filename: str, content_type: str) -> None:
    assert guess_content_type(filename) == content_type


def test_boundaries_are_random_and_never_repeat() -> None:
    boundaries = [build_form([], filename="a", content_type="x").boundary for _ in range(1000)]
    assert len(set(boundaries)) == 1000
    assert all(len(b) == 32 and int(b, 16) >= 0 for b in boundaries)


def test_a_forked_child_does_not_repeat_its_parents_boundaries() -> None:
    build_form([], filename="a", content_type="x")  # the pool holds bytes at the fork
    read, write = os.pipe()
    with warnings.catch_warnings():
        # NOTE: Python 3.12+ warns of a fork in a process with threads; the child uses none.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        os.write(write, build_form([], filename="a", content_type="x").boundary.encode())
        os._exit(0)
    os.close(write)
    try:
        child = os.read(read, 64).decode()
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert child != build_form([], filename="a", content_type="x").boundary
