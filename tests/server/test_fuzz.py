"""Fuzzing a running server with malformed and random requests: queries, JSON bodies, forms,
headers, on both flavours. Every answer is a 2xx, or a 4xx with an error body (a 500 is a bug),
and a refused request leaves nothing behind: no temporary file, no file, no Upload."""

from __future__ import annotations

import http.client
import json
import pathlib
import socket
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aikit_files.server import ServerThread

from .conftest import API_KEY, API_VERSION

#: Few enough examples that the whole module takes some seconds.
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Target:
    """The server under fuzz, an Upload with a Part to aim at, and a look at its disk."""

    def __init__(self, server: ServerThread, upload_id: str, part_id: str):
        self.server = server
        self.upload_id = upload_id
        self.part_id = part_id
        self.data_dir = pathlib.Path(server.data_dir)

    def stored(self) -> set[str]:
        """The files and Uploads on disk (what a refused request must not change)."""
        return {
            str(path.relative_to(self.data_dir))
            for directory in ("files", "uploads")
            for path in (self.data_dir / directory).rglob("*")
        }

    def temporary(self) -> list[pathlib.Path]:
        return list((self.data_dir / "tmp").iterdir())


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    with ServerThread(
        data_dir,
        api_key=API_KEY,
        file_limit=64 * 1024,
        batch_file_limit=32 * 1024,
        part_limit=16 * 1024,
        upload_limit=64 * 1024,
        azure_upload_limit=72 * 1024,
        idle_timeout=0.2,
        processing_delay=0,
    ) as server:
        with openai.OpenAI(base_url=server.openai_base_url, api_key=API_KEY) as sdk:
            upload = sdk.uploads.create(
                bytes=10, filename="u.txt", mime_type="text/plain", purpose="assistants"
            )
            part = sdk.uploads.parts.create(upload.id, data=b"0123")
        yield Target(server, upload.id, part.id)


def send(target: Target, head: bytes, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """Sends a request as it is on a fresh connection; returns the answer."""
    with socket.create_connection((target.server.host, target.server.port), timeout=10) as sock:
        sock.sendall(head + body)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        return answer.status, dict(answer.getheaders()), answer.read()


def check(target: Target, head: bytes, body: bytes) -> None:
    stored = target.stored()
    status, headers, content = send(target, head, body)
    assert status < 500, (status, head, body[:300], content)
    if status >= 400:
        assert headers.get("Content-Type", "").startswith("application/json"), (head, content)
        error = json.loads(content)["error"]
        assert isinstance(error["message"], str)
        assert error["message"]
    # The answer may come before the handler's last cleanup, and the background work of earlier
    # imports writes through tmp/ too: a file that stays there is a leak, one that comes and
    # goes is a write in progress.
    for _ in range(300):
        leftover = target.temporary()
        if not leftover:
            break
        time.sleep(0.01)
    assert leftover == []
    if status >= 400:
        assert target.stored() == stored, (status, head, content)


# --- what requests are made of ----------------------------------------------------------

#: Header values: mostly sensible, sometimes any bytes but CR and LF.
header_bytes = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
flavours = st.sampled_from(["openai", "azure"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def auth_headers(draw: st.DrawFn, flavour: str) -> list[bytes]:
    kind = draw(st.sampled_from(["right", "right", "right", "none", "random"]))
    if kind == "none":
        return []
    value = API_KEY.encode() if kind == "right" else draw(header_bytes)
    if flavour == "azure":
        return [b"api-key: " + value]
    return [b"Authorization: Bearer " + value]


@st.composite
def requests(draw: st.DrawFn, method: str, path: str, body: bytes, content_type: bytes) -> bytes:
    """The head of a request for ``body``, with fuzzed credentials, query and framing."""
    flavour = draw(flavours)
    prefix = "/v1" if flavour == "openai" else "/openai"
    query = draw(
        st.sampled_from(
            [f"api-version={API_VERSION}", f"api-version={API_VERSION}", "", "api-version=x"]
        )
    )
    lines = [f"{method} {prefix}{path}{'&' if '?' in path else '?'}{query} HTTP/1.1".encode()]
    lines.append(b"Host: fuzz")
    lines += draw(auth_headers(flavour))
    if content_type:
        lines.append(b"Content-Type: " + draw(st.sampled_from([content_type] * 4 + [b"x/y"])))
    length = draw(st.sampled_from(["right"] * 6 + ["none", "short", "junk", "two"]))
    if length == "right":
        lines.append(f"Content-Length: {len(body)}".encode())
    elif length == "short":
        lines.append(f"Content-Length: {max(len(body) - 1, 0)}".encode())
    elif length == "junk":
        lines.append(b"Content-Length: " + draw(header_bytes))
    elif length == "two":
        lines.append(f"Content-Length: {len(body)}\r\nContent-Length: 1".encode())
    expect = draw(st.sampled_from([None, None, None, b"100-continue", b"nope"]))
    if expect is not None:
        lines.append(b"Expect: " + expect)
    if draw(st.booleans()):
        lines.append(
            draw(st.sampled_from([b"X-Fuzz: ", b"X-" + b"a" * 9000 + b": "])) + draw(header_bytes)
        )
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


@st.composite
def multipart(draw: st.DrawFn, file_field: str) -> tuple[bytes, bytes]:
    """A form (often well-formed, often not), and its Content-Type."""
    boundary = draw(st.sampled_from([b"b0und", b"x" * 70, b"a b"]) | st.binary(max_size=12))
    names = st.sampled_from(
        [file_field, "purpose", "expires_after[anchor]", "expires_after[seconds]"]
    ) | st.text(max_size=8)
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(names)
        disposition = f'form-data; name="{name}"'.encode()
        filename = draw(st.none() | st.text(max_size=10))
        if filename is not None:
            disposition += f'; filename="{filename}"'.encode()
        if draw(st.booleans()):
            charset = draw(st.sampled_from(["utf-8", "iso-8859-1", "x-nope", "rot13"]))
            disposition += f"; filename*={charset}''%41%E9".encode()
        headers = [b"Content-Disposition: " + draw(st.sampled_from([disposition] * 5 + [b"x"]))]
        if draw(st.booleans()):
            headers.append(b"Content-Type: " + draw(header_bytes))
        value = draw(
            st.sampled_from([b"assistants", b"batch", b"created_at", b"3600", b"x" * 20_000])
            | st.binary(max_size=40)
        )
        parts.append(b"--" + boundary + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + value)
    body = b"\r\n".join(parts) + (b"\r\n" if parts else b"") + b"--" + boundary + b"--\r\n"
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]
    return body, b"multipart/form-data; boundary=" + boundary


def json_body(data: st.DataObject, fields: dict[str, st.SearchStrategy[Any]]) -> bytes:
    draw = data.draw
    kind = draw(st.sampled_from(["fields", "fields", "fields", "any", "raw"]))
    if kind == "raw":
        return draw(st.binary(max_size=60))
    if kind == "any":
        return json.dumps(draw(json_values)).encode()
    chosen = draw(st.lists(st.sampled_from(list(fields)), unique=True))
    document = {name: draw(fields[name] | json_values) for name in chosen}
    return json.dumps(document).encode()


# --- the fuzz tests ----------------------------------------------------------------------

query_values = st.sampled_from(["5", "+5", "-1", "0", "10001", "asc", "desc", "file-x"]) | st.text(
    max_size=12
)


@FUZZ
@given(data=st.data())
def test_listing_queries(target: Target, data: st.DataObject) -> None:
    pairs = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(["limit", "order", "after", "purpose"]) | st.text(max_size=5),
                query_values,
            ),
            max_size=4,
        )
    )
    query = urllib.parse.urlencode(pairs)
    if data.draw(st.booleans()):
        query = data.draw(st.binary(max_size=20)).hex("%", 1)  # any bytes, percent-encoded
        query = "limit=%" + query if query else "limit="
    head = data.draw(requests("GET", f"/files?{query}", b"", b""))
    check(target, head, b"")


@FUZZ
@given(data=st.data())
def test_create_upload_bodies(target: Target, data: st.DataObject) -> None:
    body = json_body(
        data,
        {
            "bytes": st.integers(-5, 100_000),
            "filename": st.sampled_from(["a.txt", "a.jsonl", ""]),
            "mime_type": st.sampled_from(["text/plain"]),
            "purpose": st.sampled_from(["assistants", "batch", "fine-tune", "nope"]),
            "expires_after": st.fixed_dictionaries(
                {"anchor": st.sampled_from(["created_at", "now"]), "seconds": st.integers(0, 10**7)}
            ),
        },
    )
    check(target, data.draw(requests("POST", "/uploads", body, b"application/json")), body)


@FUZZ
@given(data=st.data())
def test_complete_bodies(target: Target, data: st.DataObject) -> None:
    part_ids = st.lists(st.sampled_from([target.part_id, "part_x", "AAAA"]) | st.text(max_size=8))
    body = json_body(data, {"part_ids": part_ids, "md5": st.text(max_size=32)})
    path = data.draw(
        st.sampled_from([f"/uploads/{target.upload_id}/complete", "/uploads/x/complete"])
    )
    check(target, data.draw(requests("POST", path, body, b"application/json")), body)


@FUZZ
@given(data=st.data())
def test_import_bodies(target: Target, data: st.DataObject) -> None:
    # Only URLs that need no network: refused addresses, malformed ones, random text.
    urls = st.sampled_from(
        [
            "http://127.0.0.1:9/a.jsonl?sig=x",
            "http://[::1",
            "http://10.0.0.1/a",
            "file:///etc/passwd",
        ]
    ) | st.text(max_size=12).filter(lambda text: not text.lower().startswith("http"))
    body = json_body(
        data,
        {
            "purpose": st.sampled_from(["fine-tune", "assistants", "nope"]),
            "filename": st.sampled_from(["a.jsonl", "a.txt", ""]),
            "content_url": urls,
        },
    )
    check(target, data.draw(requests("POST", "/files/import", body, b"application/json")), body)


@FUZZ
@given(data=st.data())
def test_file_forms(target: Target, data: st.DataObject) -> None:
    body, content_type = data.draw(multipart("file"))
    check(target, data.draw(requests("POST", "/files", body, content_type)), body)


@FUZZ
@given(data=st.data())
def test_part_forms(target: Target, data: st.DataObject) -> None:
    body, content_type = data.draw(multipart("data"))
    path = f"/uploads/{target.upload_id}/parts"
    check(target, data.draw(requests("POST", path, body, content_type)), body)
