"""The form body of ``POST /files`` as the server receives it: the file part's Content-Type and
Content-Disposition, and the body's framing (a length, or chunks), on every attempt.

The fault server keeps each body it receives byte for byte; the local server shows what a
server makes of the filename.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import os
import pathlib
import re
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from faults import FaultServer, Recorded, respond

import aikit_files as af

pytestmark = pytest.mark.anyio


@attrs.frozen
class FilePart:
    """The file part of a recorded form."""

    disposition: bytes
    """The ``Content-Disposition`` line as sent, without its CRLF."""
    content_type: str
    """The part's ``Content-Type``, as a parser reads it."""
    filename: str | None
    """The filename, as a parser reads it."""
    data: bytes


def file_part(request: Recorded) -> FilePart:
    """The last part of the recorded form, which must be its file."""
    match = re.fullmatch(r"multipart/form-data; boundary=(\S+)", request.headers["Content-Type"])
    assert match, request.headers["Content-Type"]
    delimiter = b"--" + match.group(1).encode()
    assert request.body.endswith(b"\r\n" + delimiter + b"--\r\n")
    raw = request.body.split(delimiter)[-2]
    head, _, _ = raw.partition(b"\r\n\r\n")
    lines = head.strip(b"\r\n").split(b"\r\n")
    assert len(lines) == 2, lines
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + request.headers["Content-Type"].encode() + b"\r\n\r\n" + request.body
    )
    *_, part = message.iter_parts()
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return FilePart(lines[0], part.get_content_type(), part.get_filename(), data)


async def chunks() -> AsyncIterator[bytes]:
    yield b"da"
    yield b"ta"


def a_file_object() -> io.BytesIO:
    return io.BytesIO(b"data")


@pytest.fixture
def work(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def on_disk(folder: pathlib.Path, name: str | bytes, data: bytes = b"data") -> pathlib.Path:
    path = folder / os.fsdecode(name)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("train.jsonl", "text/jsonl"),
        ("notes.txt", "text/plain"),
        ("report.pdf", "application/pdf"),
        ("weights.unknownext", "application/octet-stream"),
        ("archive.tar.gz", "application/octet-stream"),
        ("no_extension", "application/octet-stream"),
    ],
)
async def test_the_part_type_is_guessed_from_the_path(
    fault_server: FaultServer,
    fault_client: af.AsyncClient,
    work: pathlib.Path,
    name: str,
    content_type: str,
) -> None:
    await fault_client.files.create(on_disk(work, name), "assistants")
    (request,) = fault_server.requests
    part = file_part(request)
    assert (part.content_type, part.filename, part.data) == (content_type, name, b"data")
    assert f"\r\nContent-Type: {content_type}\r\n\r\ndata\r\n".encode() in request.body


@pytest.mark.parametrize(
    ("file", "options", "filename", "content_type"),
    [
        (b"data", {}, "file", "application/octet-stream"),
        (b"data", {"filename": "data.jsonl"}, "data.jsonl", "text/jsonl"),
        # NOTE: a source that is consumed is made anew for each run of the test
        (a_file_object, {"filename": "m.txt"}, "m.txt", "text/plain"),
        (chunks, {"filename": "stream.txt"}, "stream.txt", "text/plain"),
        # an explicit content type wins over the guess
        (
            b"data",
            {"filename": "a.txt", "content_type": "application/jsonl"},
            "a.txt",
            "application/jsonl",
        ),
        (b"data", {"content_type": "text/csv"}, "file", "text/csv"),
        (
            b"data",
            {
                "parameters": af.FileParameters(
                    filename="t.jsonl", content_type="application/x-ndjson"
                )
            },
            "t.jsonl",
            "application/x-ndjson",
        ),
    ],
    ids=[
        "blob",
        "named blob",
        "file object",
        "async iterable",
        "explicit",
        "explicit, no name",
        "parameters",
    ],
)
async def test_the_part_type_of_other_sources(
    fault_server: FaultServer,
    fault_client: af.AsyncClient,
    file: Any,
    options: dict[str, Any],
    filename: str,
    content_type: str,
) -> None:
    source = file() if callable(file) else file
    await fault_client.files.create(source, "assistants", **options)
    (request,) = fault_server.requests
    part = file_part(request)
    assert (part.content_type, part.filename) == (content_type, filename)
    assert part.data == b"data"


async def test_a_file_object_is_named_and_typed_after_its_path(
    fault_server: FaultServer, fault_client: af.AsyncClient, work: pathlib.Path
) -> None:
    with on_disk(work, "rows.jsonl").open("rb") as file:
        await fault_client.files.create(file, "batch")
    part = file_part(fault_server.requests[0])
    assert (part.content_type, part.filename) == ("text/jsonl", "rows.jsonl")


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("plain.txt", b'filename="plain.txt"'),
        ('say "hi".txt', b'filename="say %22hi%22.txt"'),
        ("back\\slash.txt", b'filename="back\\\\slash.txt"'),
        ("tab\there.txt", b'filename="tab%09here.txt"'),
        ("semi; name=x.txt", b'filename="semi; name=x.txt"'),
        ("naïve résumé.pdf", 'filename="naïve résumé.pdf"'.encode()),
        # a name that is not UTF-8 on disk: its undecodable byte goes as U+FFFD
        (b"caf\xe9.txt", 'filename="caf\ufffd.txt"'.encode()),
    ],
    ids=["plain", "quote", "backslash", "control", "separators", "non-ASCII", "undecodable"],
)
async def test_the_disposition_quotes_the_filename(
    fault_server: FaultServer,
    fault_client: af.AsyncClient,
    work: pathlib.Path,
    name: str | bytes,
    sent: bytes,
) -> None:
    await fault_client.files.create(on_disk(work, name), "assistants")
    part = file_part(fault_server.requests[0])
    assert part.disposition == b'Content-Disposition: form-data; name="file"; ' + sent


async def test_a_lone_surrogate_in_a_given_filename_goes_as_a_question_mark(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    await fault_client.files.create(b"data", "assistants", filename="caf\udce9.txt")
    part = file_part(fault_server.requests[0])
    assert part.disposition == b'Content-Disposition: form-data; name="file"; filename="caf?.txt"'
    assert (part.content_type, part.data) == ("text/plain", b"data")


async def test_a_file_name_with_a_line_break_stays_on_its_line(
    fault_server: FaultServer, fault_client: af.AsyncClient, work: pathlib.Path
) -> None:
    # A given filename must be on one line; a name on disk may hold anything but "/".
    path = on_disk(work, 'evil.html"\r\nX-Injected: yes\r\n\r\n<script>')
    await fault_client.files.create(path, "assistants")
    part = file_part(fault_server.requests[0])
    assert part.disposition == (
        b'Content-Disposition: form-data; name="file"; '
        b'filename="evil.html%22%0D%0AX-Injected: yes%0D%0A%0D%0A<script>"'
    )
    assert (part.content_type, part.data) == ("application/octet-stream", b"data")


async def test_the_text_fields_come_first_with_their_names_quoted(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    await fault_client.files.create(
        b"{}\n", "batch", filename="b.jsonl", expires_after=af.ExpiresAfter(seconds=3600)
    )
    body = fault_server.requests[0].body
    names = re.findall(rb'Content-Disposition: form-data; name="([^"]*)"', body)
    assert names == [b"purpose", b"expires_after[anchor]", b"expires_after[seconds]", b"file"]
    assert b'name="purpose"\r\n\r\nbatch\r\n' in body
    assert b'name="expires_after[anchor]"\r\n\r\ncreated_at\r\n' in body
    assert b'name="expires_after[seconds]"\r\n\r\n3600\r\n' in body


async def test_the_local_server_reads_the_filename_back(
    client: af.AsyncClient, work: pathlib.Path
) -> None:
    names: list[tuple[str | bytes, str]] = [
        ("naïve résumé.pdf", "naïve résumé.pdf"),
        ("back\\slash.txt", "back\\slash.txt"),
        (b"caf\xe9.txt", "caf\ufffd.txt"),
    ]
    for name, stored in names:
        created = await client.files.create(on_disk(work, name), "assistants")
        assert created.filename == stored
        assert (await client.files.retrieve(created.id)).filename == stored
    given = await client.files.create(b"x", "assistants", filename="caf\udce9.txt")
    assert given.filename == "caf?.txt"


@pytest.mark.parametrize("kind", ["path", "blob", "file object"])
async def test_a_known_size_goes_with_an_exact_length_on_every_attempt(
    fault_server: FaultServer, fault_client: af.AsyncClient, work: pathlib.Path, kind: str
) -> None:
    data = os.urandom(300_000)
    sources: dict[str, Any] = {
        "path": on_disk(work, "a.bin", data),
        "blob": data,
        "file object": io.BytesIO(data),
    }
    fault_server.script(
        respond(500, {"error": {"message": "again"}}, headers={"retry-after-ms": "1"})
    )
    await fault_client.files.create(sources[kind], "assistants", filename="a.bin")
    assert len(fault_server.requests) == 2
    for request in fault_server.requests:
        assert request.headers["Content-Length"] == str(request.size)
        assert "Transfer-Encoding" not in request.headers
        assert file_part(request).data == data


async def test_an_unknown_size_goes_chunked(
    fault_server: FaultServer, fault_client: af.AsyncClient
) -> None:
    await fault_client.files.create(chunks(), "assistants", filename="s.txt")
    (request,) = fault_server.requests
    assert request.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in request.headers
    assert file_part(request).data == b"data"
