"""The sans-I/O multipart parser: any split of a body gives the same parts; bad bodies fail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aikit_files.server._errors import ApiError
from aikit_files.server._multipart import (
    MAX_PART_HEADERS,
    FormEnd,
    MultipartError,
    MultipartParser,
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
