"""The sans-I/O multipart parser: any split of a body gives the same parts; bad bodies fail."""

from __future__ import annotations

from typing import cast

import pytest
from aiohttp import StreamReader
from hypothesis import given
from hypothesis import strategies as st

from aikit_files.server._errors import ApiError
from aikit_files.server._multipart import (
    MAX_PART_HEADERS,
    FormEnd,
    FormReader,
    MultipartError,
    MultipartParser,
    Part,
    PartData,
    PartEnd,
    PartStart,
    boundary_of,
    disposition,
)

BOUNDARY = b"xYz-boundary"

# Bodies full of what could be mistaken for a delimiter.
tricky_bytes = st.binary(max_size=300) | st.sampled_from(
    [b"", b"\r\n", b"--", b"\r\n--xYz-boundar", b"--xYz-boundary", b"\r\n--xYz", b"\r"]
)


def encode(parts: list[tuple[str, bytes]], preamble: bytes = b"") -> bytes:
    body = preamble
    for name, value in parts:
        body += b"--" + BOUNDARY + b"\r\n"
        body += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        body += value + b"\r\n"
    return body + b"--" + BOUNDARY + b"--\r\nepilogue"


def parse(body: bytes, cuts: list[int]) -> list[tuple[str, bytes]]:
    parser = MultipartParser(BOUNDARY)
    events = []
    start = 0
    for cut in [*sorted(cuts), len(body)]:
        events += parser.feed(body[start:cut])
        start = cut
    events += parser.close()
    parts: list[tuple[str, bytes]] = []
    ended = False
    for event in events:
        if isinstance(event, PartStart):
            parts.append((disposition(event.headers)[0], b""))
        elif isinstance(event, PartData):
            parts[-1] = (parts[-1][0], parts[-1][1] + event.data)
        elif isinstance(event, FormEnd):
            ended = True
        else:
            assert isinstance(event, PartEnd)
    assert ended
    return parts


@given(
    parts=st.lists(st.tuples(st.sampled_from(["file", "purpose", "x"]), tricky_bytes), max_size=4),
    data=st.data(),
)
def test_any_split_gives_the_same_parts(
    parts: list[tuple[str, bytes]], data: st.DataObject
) -> None:
    body = encode(parts)
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=12))
    assert parse(body, cuts) == parts


def test_a_preamble_is_ignored() -> None:
    assert parse(encode([("a", b"1")], preamble=b"ignore me\r\n"), []) == [("a", b"1")]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"no boundary at all",
        b'--xYz-boundary\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue',
        b"--xYz-boundaryJUNK\r\n\r\n--xYz-boundary--",
        b"--xYz-boundary\r\nbad header\r\n\r\nx\r\n--xYz-boundary--",
        b"--xYz-boundary\r\n" + b"X-Long: " + b"a" * MAX_PART_HEADERS + b"\r\n\r\n",
    ],
)
def test_malformed_bodies_fail(body: bytes) -> None:
    def parse_whole() -> None:
        parser = MultipartParser(BOUNDARY)
        parser.feed(body)
        parser.close()

    with pytest.raises(MultipartError):
        parse_whole()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('form-data; name="file"; filename="a.jsonl"', ("file", "a.jsonl")),
        ("form-data; name=purpose", ("purpose", None)),
        ('form-data; name="f"; filename="say \\"hi\\".txt"', ("f", 'say "hi".txt')),
        ("form-data; name=\"f\"; filename*=UTF-8''%E2%82%AC.txt", ("f", "\u20ac.txt")),
        ('form-data; name="f"; filename="../../etc/passwd"', ("f", "../../etc/passwd")),
        # The WHATWG form encoding of '"', CR and LF, as browsers and HTTP clients send them.
        ('form-data; name="f%22"; filename="say %22hi%22.txt"', ('f"', 'say "hi".txt')),
        ('form-data; name="f"; filename="a%0D%0Ab%0d%0a"', ("f", "a\r\nb\r\n")),
        ('form-data; name="f"; filename="100%41%25"', ("f", "100%41%25")),
        ("form-data; name=\"f\"; filename*=ISO-8859-1''%E9t%E9.txt", ("f", "\u00e9t\u00e9.txt")),
    ],
)
def test_disposition(header: str, expected: tuple[str, str | None]) -> None:
    assert disposition({"content-disposition": header}) == expected


@pytest.mark.parametrize("header", ["", "attachment; name=x", 'form-data; filename="a"'])
def test_disposition_without_a_form_name_fails(header: str) -> None:
    with pytest.raises(MultipartError):
        disposition({"content-disposition": header})


@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        ("multipart/form-data; boundary=abc", b"abc"),
        ('Multipart/Form-Data; charset=utf-8; boundary="a b:c"', b"a b:c"),
    ],
)
def test_boundary_of(content_type: str, boundary: bytes) -> None:
    assert boundary_of(content_type) == boundary


@pytest.mark.parametrize(
    "content_type", ["", "application/json", "multipart/form-data", "multipart/mixed; boundary=a"]
)
def test_boundary_of_refuses(content_type: str) -> None:
    with pytest.raises(ApiError) as refused:
        boundary_of(content_type)
    assert refused.value.status == 400


# --- the paths a mutation sample found untested -----------------------------------------

DELIMITER = b"\r\n--" + BOUNDARY


def events_of(*pieces: bytes, close: bool = True) -> list[object]:
    parser = MultipartParser(BOUNDARY)
    events: list[object] = []
    for piece in pieces:
        events += parser.feed(piece)
    if close:
        events += parser.close()
    return events


def pieces(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.timeout(10)  # a parser that stops consuming would loop for ever
@given(
    parts=st.lists(st.tuples(st.sampled_from(["a", "b"]), tricky_bytes), max_size=3),
    preamble=st.binary(max_size=3000).filter(lambda p: BOUNDARY not in p),
    data=st.data(),
)
def test_any_preamble_fed_in_any_pieces_is_skipped(
    parts: list[tuple[str, bytes]], preamble: bytes, data: st.DataObject
) -> None:
    body = encode(parts, preamble=preamble + b"\r\n")
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=30))
    assert parse(body, cuts) == parts


@pytest.mark.timeout(10)
def test_a_long_preamble_in_small_pieces_keeps_only_what_may_begin_a_delimiter() -> None:
    parser = MultipartParser(BOUNDARY)
    for piece in pieces(b"p" * 10_000 + b"\r\n--xYz-bound", 7):
        assert parser.feed(piece) == []
        assert len(parser._buffer) <= len(DELIMITER) - 1
    assert parser.feed(b"ary\r\n\r\nv\r\n--xYz-boundary--") == [
        PartStart({}),
        PartData(b"v"),
        PartEnd(),
        FormEnd(),
    ]


@pytest.mark.timeout(10)
def test_a_body_is_streamed_holding_back_only_what_may_begin_a_delimiter() -> None:
    head = b'--xYz-boundary\r\nContent-Disposition: form-data; name="f"\r\n\r\n'
    parser = MultipartParser(BOUNDARY)
    assert parser.feed(head) == [PartStart({"content-disposition": 'form-data; name="f"'})]
    keep = len(DELIMITER) - 1
    assert parser.feed(b"x" * keep) == []  # all of it may begin a delimiter
    assert parser.feed(b"y") == [PartData(b"x")]
    assert parser.feed(b"z" * 100) == [PartData(b"x" * (keep - 1) + b"y" + b"z" * (100 - keep))]


def test_a_part_without_headers() -> None:
    assert events_of(b"--xYz-boundary\r\n\r\nvalue\r\n--xYz-boundary--") == [
        PartStart({}),
        PartData(b"value"),
        PartEnd(),
        FormEnd(),
    ]
    with pytest.raises(MultipartError, match="lacks a form-data Content-Disposition with a name"):
        disposition({})


def test_a_part_without_content_disposition() -> None:
    events = events_of(b"--xYz-boundary\r\nContent-Type: text/plain\r\n\r\nv\r\n--xYz-boundary--")
    assert events[0] == PartStart({"content-type": "text/plain"})
    with pytest.raises(MultipartError, match="lacks a form-data Content-Disposition"):
        disposition({"content-type": "text/plain"})


def test_the_closing_delimiter_may_end_the_body() -> None:
    assert events_of(b"--xYz-boundary--")[-1] == FormEnd()
    assert events_of(b"--xYz-boundary", b"-", b"-") == [FormEnd()]
    with pytest.raises(MultipartError, match="ended before its closing boundary"):
        events_of(b"--xYz-boundary-")


@pytest.mark.timeout(10)  # a parser that waits for a CRLF that never comes would hang
def test_a_boundary_line_is_capped_without_its_crlf() -> None:
    assert events_of(b"--xYz-boundary" + b" " * 1024, close=False) == []
    with pytest.raises(MultipartError, match=r"^malformed multipart boundary line$"):
        events_of(b"--xYz-boundary" + b" " * 1025, close=False)
    with pytest.raises(MultipartError, match=r"^malformed multipart boundary line$"):
        events_of(*pieces(b"--xYz-boundary" + b" " * 2000, 100), close=False)


def test_a_boundary_line_may_end_in_spaces_and_tabs_only() -> None:
    assert events_of(b"--xYz-boundary \t\r\n\r\nv\r\n--xYz-boundary--")[1] == PartData(b"v")
    for padding in (b"\x0b", b"x"):
        with pytest.raises(MultipartError, match=r"^malformed multipart boundary line$"):
            events_of(b"--xYz-boundary" + padding + b"\r\n\r\nv\r\n--xYz-boundary--")


def headers_of(size: int) -> bytes:
    """A header block of exactly ``size`` bytes."""
    return b"X-Long: " + b"a" * (size - len(b"X-Long: "))


@pytest.mark.parametrize("size", [MAX_PART_HEADERS, 50])
def test_part_headers_up_to_the_cap(size: int) -> None:
    body = b"--xYz-boundary\r\n" + headers_of(size) + b"\r\n\r\nv\r\n--xYz-boundary--"
    for split in (len(body), 1000):
        events = events_of(*pieces(body, split))
        assert events[0] == PartStart({"x-long": "a" * (size - 8)})


def test_part_headers_past_the_cap() -> None:
    body = b"--xYz-boundary\r\n" + headers_of(MAX_PART_HEADERS + 1) + b"\r\n\r\n"
    with pytest.raises(MultipartError, match=r"^the headers of a multipart part are too large$"):
        events_of(body, close=False)
    # Not complete yet, and already too large.
    with pytest.raises(MultipartError, match=r"^the headers of a multipart part are too large$"):
        events_of(b"--xYz-boundary\r\n" + headers_of(MAX_PART_HEADERS + 1), close=False)
    assert events_of(b"--xYz-boundary\r\n" + headers_of(MAX_PART_HEADERS), close=False) == []


def test_part_headers_that_are_not_utf8_are_read_with_replacements() -> None:
    events = events_of(
        b'--xYz-boundary\r\nContent-Disposition: form-data; name="f"; filename="caf\xe9.txt"'
        b"\r\n\r\nv\r\n--xYz-boundary--"
    )
    start = events[0]
    assert isinstance(start, PartStart)
    assert disposition(start.headers) == ("f", "caf\ufffd.txt")


@pytest.mark.parametrize("line", [b" Content-Type: x", b"Content-Type : x", b": x", b"no colon"])
def test_malformed_part_headers(line: bytes) -> None:
    with pytest.raises(MultipartError, match=r"^malformed header in a multipart part$"):
        events_of(b"--xYz-boundary\r\n" + line + b"\r\n\r\nv\r\n--xYz-boundary--")


def test_a_header_value_may_hold_colons() -> None:
    events = events_of(
        b'--xYz-boundary\r\nContent-Disposition: form-data; name="a:b"\r\n\r\nv\r\n--xYz-boundary--'
    )
    start = events[0]
    assert isinstance(start, PartStart)
    assert disposition(start.headers) == ("a:b", None)


def test_boundary_of_names_what_it_got() -> None:
    with pytest.raises(ApiError) as refused:
        boundary_of("")
    assert refused.value.message == (
        "The request body must be multipart/form-data with a boundary (got Content-Type 'none')."
    )
    with pytest.raises(ApiError) as refused:
        boundary_of("text/plain; boundary=a")
    assert "(got Content-Type 'text/plain; boundary=a')" in refused.value.message
    assert boundary_of("multipart/form-data; boundary=a; x=y; z") == b"a"


class Stream:
    """A request body in pieces, read as aiohttp's ``StreamReader.readany`` reads it."""

    def __init__(self, *chunks: bytes):
        self.chunks = list(chunks)

    async def readany(self) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


def reader_of(body: bytes) -> FormReader:
    return FormReader(cast(StreamReader, Stream(*pieces(body, 100))), BOUNDARY)


def field(name: str, value: bytes, headers: bytes = b"") -> bytes:
    return (
        b"--xYz-boundary\r\n"
        + f'Content-Disposition: form-data; name="{name}"\r\n'.encode()
        + headers
        + b"\r\n"
        + value
        + b"\r\n"
    )


@pytest.mark.anyio
async def test_a_part_with_and_without_a_content_type() -> None:
    reader = reader_of(
        field("a", b"1") + field("b", b"2", b"Content-Type: text/plain\r\n") + b"--xYz-boundary--"
    )
    first = await reader.next_part()
    assert first == Part("a", None, None)
    second = await reader.next_part()
    assert second == Part("b", None, "text/plain")
    assert await reader.next_part() is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"x" * 4097, "The form field 'f' is too long."),
        (b"caf\xe9", "The form field 'f' is not valid UTF-8."),
    ],
)
async def test_text_fields_refused(value: bytes, message: str) -> None:
    reader = reader_of(field("f", value) + b"--xYz-boundary--")
    assert await reader.next_part() is not None
    with pytest.raises(ApiError) as refused:
        await reader.text("f")
    assert (refused.value.status, refused.value.param, refused.value.message) == (400, "f", message)


@pytest.mark.anyio
async def test_a_text_field_of_exactly_its_limit() -> None:
    reader = reader_of(field("f", "é".encode() * 2048) + b"--xYz-boundary--")
    assert await reader.next_part() is not None
    assert await reader.text("f") == "é" * 2048
    assert await reader.next_part() is None


@pytest.mark.anyio
async def test_a_malformed_body_is_a_400_naming_the_problem() -> None:
    reader = reader_of(b"--xYz-boundary\r\nbad\r\n\r\n")
    with pytest.raises(ApiError) as refused:
        await reader.next_part()
    assert refused.value.message == (
        "Malformed multipart body: malformed header in a multipart part."
    )
    reader = reader_of(field("f", b"v"))
    assert await reader.next_part() is not None
    with pytest.raises(ApiError) as refused:
        await reader.text("f")
    assert refused.value.message == (
        "Malformed multipart body: the multipart body ended before its closing boundary."
    )
    reader = reader_of(b"--xYz-boundary\r\nContent-Type: x\r\n\r\nv\r\n--xYz-boundary--")
    with pytest.raises(ApiError) as refused:
        await reader.next_part()
    assert "lacks a form-data Content-Disposition with a name" in refused.value.message
