"""Every bad request gets the right status and an error envelope, and leaves nothing on disk."""

from __future__ import annotations

import asyncio
import io
import json
import pathlib
from typing import Any

import aiohttp
import attrs
import openai
import pytest

from aikit_files.server import ServerThread

from .conftest import (
    API_KEY,
    API_VERSION,
    BOUNDARY,
    MULTIPART,
    assert_refused,
    auth,
    check_envelope,
    disk,
    form,
    raw_answer,
    url,
)

FILE = ("file", "a.txt", b"hello")
PURPOSE = ("purpose", None, b"assistants")
PURPOSE_PART = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
).encode()


@attrs.frozen
class Case:
    """A bad request, and the status and ``param`` it must get (``azure_param`` on the Azure
    routes, when it differs)."""

    method: str
    path: str
    status: int
    param: str | None = None
    body: bytes | None = None
    headers: dict[str, str] = attrs.Factory(lambda: dict(MULTIPART))
    query: dict[str, str] = attrs.Factory(dict)
    azure_param: str | None = attrs.field()

    @azure_param.default
    def _same_param(self) -> str | None:
        return self.param


def create(param: str | None, *parts: tuple[str, str | None, bytes], status: int = 400) -> Case:
    """A ``POST /files`` of a form with ``parts``, refused with ``status`` about ``param``."""
    return Case("POST", "/files", status, param, form(*parts))


def seconds(text: str) -> Case:
    """A create whose ``expires_after[seconds]`` is ``text``."""
    value = ("expires_after[seconds]", None, text.encode())
    return create("expires_after.seconds", PURPOSE, ANCHOR, value, FILE)


def expires_json(text: bytes, *more: tuple[str, str | None, bytes]) -> Case:
    """A create whose ``expires_after`` is the JSON field ``text``."""
    return create("expires_after", PURPOSE, *more, ("expires_after", None, text), FILE)


def raw_create(body: bytes, headers: dict[str, str] | None = None) -> Case:
    """A ``POST /files`` of ``body`` as it is, refused with a 400."""
    return Case("POST", "/files", 400, None, body, dict(MULTIPART if headers is None else headers))


def part(disposition: str) -> bytes:
    """A form of one part of value ``x`` with the ``Content-Disposition`` line ``disposition``."""
    return f"--{BOUNDARY}\r\n{disposition}\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode()


#: A key ``upload`` leaves out of the body.
DROP = object()


def upload(param: str, azure_param: str | None = None, **changes: object) -> Case:
    """A ``POST /uploads`` of a valid body with ``changes`` (``DROP`` leaves a key out),
    refused with a 400 about ``param`` (``azure_param`` on Azure's routes, if given)."""
    body = {"bytes": 1, "filename": "a", "mime_type": "t", "purpose": "assistants", **changes}
    sent = json.dumps({key: value for key, value in body.items() if value is not DROP}).encode()
    case = Case("POST", "/uploads", 400, param, sent, {})
    return case if azure_param is None else attrs.evolve(case, azure_param=azure_param)


def upload_expiring(seconds: object) -> Case:
    """An Upload whose ``expires_after.seconds`` is ``seconds``: refused on both flavours
    (Azure's Upload has no ``expires_after``: an unknown argument there)."""
    policy = {"anchor": "created_at", "seconds": seconds}
    return upload("expires_after.seconds", azure_param="expires_after", expires_after=policy)


ANCHOR = ("expires_after[anchor]", None, b"created_at")
BIG_BATCH = ("file", "b.jsonl", b"x" * (512 * 1024 + 1))
BATCH = ("purpose", None, b"batch")

CASES: dict[str, Case] = {
    "no file": create("file", PURPOSE),
    "no purpose": create("purpose", FILE),
    "empty purpose": create("purpose", ("purpose", None, b""), FILE),
    "unknown purpose": create("purpose", ("purpose", None, b"x"), FILE),
    "purpose after the file, unknown": create("purpose", FILE, ("purpose", None, b"x")),
    "expires_after: JSON field not JSON": expires_json(b"{"),
    "expires_after: JSON field not an object": expires_json(b"[]"),
    "expires_after: JSON field and its fields": expires_json(
        b'{"anchor": "created_at", "seconds": 3600}', ANCHOR
    ),
    "expires_after anchor": create(
        "expires_after.anchor", PURPOSE, ("expires_after[anchor]", None, b"now"), FILE
    ),
    "expires_after too short": seconds("3599"),
    "expires_after too long": seconds("2592001"),
    "expires_after not a number": seconds("1e4"),
    "expires_after in Arabic-Indic digits": seconds("\u0663\u0666\u0660\u0660"),
    "expires_after in fullwidth digits": seconds("\uff13\uff16\uff10\uff10"),
    "expires_after without anchor": create(
        "expires_after.anchor", PURPOSE, FILE, ("expires_after[seconds]", None, b"3600")
    ),
    "filename* in an unknown charset": raw_create(
        PURPOSE_PART + part("Content-Disposition: form-data; name=\"file\"; filename*=x-nope''%41")
    ),
    "filename* in a charset that is not text": raw_create(
        PURPOSE_PART + part("Content-Disposition: form-data; name=\"file\"; filename*=rot13''%41")
    ),
    "batch not jsonl": create("file", BATCH, FILE),
    "fine-tune not jsonl": create("file", FILE, ("purpose", None, b"fine-tune")),
    "batch too large": create(None, BATCH, BIG_BATCH, status=413),
    "batch too large, purpose last": create(None, BIG_BATCH, BATCH, status=413),
    "file as a text field": create("file", PURPOSE, ("file", None, b"x")),
    "file twice": create("file", PURPOSE, FILE, FILE),
    "purpose twice": create("purpose", PURPOSE, PURPOSE, FILE),
    "unknown field": create("model", PURPOSE, ("model", None, b"x"), FILE),
    "not multipart": raw_create(b'{"purpose": "assistants"}', {"Content-Type": "application/json"}),
    "multipart without boundary": raw_create(
        form(PURPOSE, FILE), {"Content-Type": "multipart/form-data"}
    ),
    "multipart truncated": raw_create(form(PURPOSE, FILE)[:-30]),
    "multipart garbage": raw_create(b"this is not a form"),
    "multipart part without name": raw_create(part("Content-Disposition: form-data")),
    "multipart header line without colon": raw_create(part("Content-Disposition form-data")),
    "limit zero": Case("GET", "/files", 400, "limit", query={"limit": "0"}),
    "limit too large": Case("GET", "/files", 400, "limit", query={"limit": "10001"}),
    "limit not a number": Case("GET", "/files", 400, "limit", query={"limit": "ten"}),
    "limit with two signs": Case("GET", "/files", 400, "limit", query={"limit": "+-5"}),
    "limit with two minus signs": Case("GET", "/files", 400, "limit", query={"limit": "--1"}),
    "limit of 5000 digits": Case("GET", "/files", 400, "limit", query={"limit": "9" * 5000}),
    "limit in fullwidth digits": Case("GET", "/files", 400, "limit", query={"limit": "\uff15"}),
    "limit in Arabic-Indic digits": Case("GET", "/files", 400, "limit", query={"limit": "\u0665"}),
    "order unknown": Case("GET", "/files", 400, "order", query={"order": "newest"}),
    "retrieve unknown id": Case("GET", "/files/file-" + "0" * 32, 404, "file_id"),
    "retrieve malformed id": Case("GET", "/files/file-abc", 404, "file_id"),
    "content unknown id": Case("GET", "/files/file-" + "0" * 32 + "/content", 404, "file_id"),
    "delete unknown id": Case("DELETE", "/files/file-" + "0" * 32, 404, "file_id"),
    "id with %2F": Case("GET", "/files/..%2F..%2Fetc%2Fpasswd", 404, "file_id"),
    "id with %2F, content": Case("GET", "/files/file-x%2F..%2Fx/content", 404, "file_id"),
    "id with %2F, delete": Case("DELETE", "/files/..%2Ffiles", 404, "file_id"),
    "id is ..": Case("GET", "/files/%2E%2E", 404, "file_id"),
    "id with /": Case("GET", "/files/file-0/../../../etc/passwd", 404),
    "id with / and ..": Case("DELETE", "/files/../uploads", 404),
    "unknown route": Case("GET", "/models", 404),
    "wrong method": Case("PUT", "/files", 405),
    "upload: not JSON": Case("POST", "/uploads", 400, None, b"{", {}),
    "upload: JSON body over 1 MiB": Case(
        "POST", "/uploads", 413, None, b'{"filename": "' + b"a" * 2 * 1024 * 1024 + b'"}', {}
    ),
    "upload: not an object": Case("POST", "/uploads", 400, None, b"[]", {}),
    "upload: unknown key": upload("model", model=1),
    "upload: no filename": upload("filename", filename=DROP),
    "upload: negative bytes": upload("bytes", bytes=-1),
    # Past the Upload limit of both flavours (1 MiB and 1152 KiB here).
    "upload: too many bytes": upload("bytes", bytes=2**21),
    "upload: a batch file not named .jsonl": upload("filename", filename="b.txt", purpose="batch"),
    "upload: purpose is a list": upload("purpose", purpose=["user_data"]),
    "upload: purpose is an object": upload("purpose", purpose={}),
    "upload: JSON nested too deep": Case(
        "POST", "/uploads", 400, None, b"[" * 100_000 + b"]" * 100_000, {}
    ),
    "upload: expires_after of 5000 digits": upload_expiring("9" * 5000),
    "upload: expires_after in fullwidth digits": upload_expiring("\uff13\uff16\uff10\uff10"),
    "upload: unknown purpose": upload("purpose", purpose="x"),
    "upload: bad expires_after": upload_expiring(1),
    "part: unknown upload": Case(
        "POST",
        "/uploads/upload_" + "0" * 32 + "/parts",
        404,
        "upload_id",
        form(("data", "d", b"x")),
    ),
    "part: malformed upload id": Case(
        "POST", "/uploads/..%2Fupload/parts", 404, "upload_id", form(("data", "d", b"x"))
    ),
    "complete: unknown upload": Case(
        "POST",
        "/uploads/upload_" + "0" * 32 + "/complete",
        404,
        "upload_id",
        b'{"part_ids": []}',
        {},
    ),
    "cancel: unknown upload": Case("POST", "/uploads/upload_x/cancel", 404, "upload_id"),
    # A body that does not follow its Content-Encoding: aiohttp cannot decode it.
    "file: body not gzip": Case(
        "POST", "/files", 400, None, b"not gzip" * 100, {**MULTIPART, "Content-Encoding": "gzip"}
    ),
    "upload: body not deflate": Case(
        "POST", "/uploads", 400, None, b"not deflate" * 100, {"Content-Encoding": "deflate"}
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize("name", CASES)
async def test_bad_request(
    name: str,
    flavour: str,
    server: ServerThread,
    session: aiohttp.ClientSession,
    data_dir: pathlib.Path,
) -> None:
    case = CASES[name]
    query = dict(case.query)
    if flavour == "azure":
        query["api-version"] = API_VERSION
    await assert_refused(
        session,
        data_dir,
        flavour,
        case.status,
        case.azure_param if flavour == "azure" else case.param,
        case.method,
        url(server, flavour, case.path).update_query(query),
        data=None if case.body is None else io.BytesIO(case.body),
        headers={**case.headers, **auth(flavour)},
    )


@pytest.mark.anyio
@pytest.mark.parametrize("key", [None, "", "sk-wrong"])
async def test_missing_or_wrong_key(
    key: str | None,
    flavour: str,
    server: ServerThread,
    session: aiohttp.ClientSession,
    data_dir: pathlib.Path,
) -> None:
    headers = dict(MULTIPART)
    if key is not None:
        headers.update(auth(flavour, key))
    error = await assert_refused(
        session,
        data_dir,
        flavour,
        401,
        None,
        "POST",
        url(server, flavour, "/files").with_query({"api-version": API_VERSION}),
        data=form(PURPOSE, FILE),
        headers=headers,
    )
    assert "sk-wrong" not in json.dumps(error)


@pytest.mark.anyio
@pytest.mark.parametrize("api_key", [None, API_KEY])
@pytest.mark.parametrize(
    ("flavour", "header"),
    [("openai", b"Authorization: Bearer sk-\xff\xfe"), ("azure", b"api-key: sk-\xff\xfe")],
)
async def test_a_key_that_is_not_utf8_is_refused(
    api_key: str | None, flavour: str, header: bytes, tmp_path: pathlib.Path
) -> None:
    with ServerThread(tmp_path / "data", api_key=api_key) as server:
        path = url(server, flavour, "/files").with_query({"api-version": API_VERSION}).raw_path_qs
        head, body = await raw_answer(
            server, f"GET {path} HTTP/1.1\r\nHost: x\r\n".encode() + header + b"\r\n\r\n"
        )
    assert head.startswith(b"HTTP/1.1 401 ")
    check_envelope(flavour, 401, json.loads(body), None)


@pytest.mark.anyio
async def test_azure_wants_its_api_key_header_not_bearer(
    server: ServerThread, session: aiohttp.ClientSession
) -> None:
    async with session.get(
        url(server, "azure", "/files").with_query({"api-version": API_VERSION}),
        headers=auth("openai"),
    ) as response:
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthorized"


@pytest.mark.anyio
@pytest.mark.parametrize("version", [None, "", "latest"])
async def test_azure_requires_an_api_version(
    version: str | None, server: ServerThread, session: aiohttp.ClientSession
) -> None:
    query = {} if version is None else {"api-version": version}
    async with session.get(
        url(server, "azure", "/files").with_query(query), headers=auth("azure")
    ) as response:
        assert response.status == 400
        body = await response.json()
        assert body["error"] == {
            "code": "invalidPayload",
            "message": body["error"]["message"],
            "target": "api-version",
        }


@pytest.mark.anyio
async def test_an_unknown_path_outside_the_api(
    server: ServerThread, session: aiohttp.ClientSession
) -> None:
    async with session.get(server.url + "/etc/passwd") as response:
        assert response.status == 404
        check_envelope("openai", 404, await response.json(), None)


async def raw_request(server: ServerThread, head: str) -> tuple[bytes, bytes]:
    """Sends the head of a request (and none of its body) on a fresh connection; returns the
    status line of the answer, and the answer."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(head.encode())
        answer = await reader.readuntil(b"\r\n\r\n")
        length = int(answer.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        answer += await reader.readexactly(length)
    finally:
        writer.close()
        await writer.wait_closed()
    return answer.split(b"\r\n", 1)[0], answer


@pytest.mark.anyio
@pytest.mark.parametrize("expect", [False, True])
async def test_a_declared_length_past_the_limit_is_refused_before_the_body(
    expect: bool, tmp_path: pathlib.Path
) -> None:
    # The real limits: a body declared 1 byte past what a 512 MiB file and its form could
    # take is refused on its headers, before any byte of it is sent.
    with ServerThread(tmp_path / "data", api_key=API_KEY) as server:
        head = (
            "POST /v1/files HTTP/1.1\r\n"
            f"Host: {server.host}\r\n"
            f"Authorization: Bearer {API_KEY}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {512 * 1024 * 1024 + 64 * 1024 + 1}\r\n"
            + ("Expect: 100-continue\r\n" if expect else "")
            + "\r\n"
        )
        status, answer = await raw_request(server, head)
        # The reason phrase is Python's: "Request Entity Too Large", "Content Too Large" (3.13).
        assert status.startswith(b"HTTP/1.1 413 ")
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body["error"]["code"] == "file_too_large"
        assert disk(tmp_path / "data") == {"files", "uploads", "tmp"}


class Endless(io.RawIOBase):
    """A stream that is not seekable (so the SDK sends it chunked), of ``size`` bytes."""

    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = b"x" * count
        self.left -= count
        return count


def test_a_chunked_body_is_refused_once_its_file_passes_the_limit(
    server: ServerThread, client: openai.OpenAI, data_dir: pathlib.Path
) -> None:
    before = disk(data_dir)
    stream = Endless(640 * 1024 * 1024)  # 640 MiB if it were all read; the limit is 1 MiB
    with pytest.raises(openai.APIStatusError) as refused:
        client.files.create(file=("big.bin", io.BufferedReader(stream)), purpose="assistants")
    assert refused.value.status_code == 413
    check_envelope("openai", 413, {"error": refused.value.body}, None)
    assert stream.left > 600 * 1024 * 1024
    assert disk(data_dir) == before


@pytest.mark.anyio
async def test_expect_100_continue_is_answered_once_the_request_is_acceptable(
    server: ServerThread,
) -> None:
    body = form(PURPOSE, FILE)
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(
            (
                "POST /v1/files HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {API_KEY}\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
            ).encode()
        )
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(body)
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GARBAGE\r\n\r\n", id="request line without a target"),
        pytest.param(b"GET /v1/files HTTP/9.9.9\r\nHost: x\r\n\r\n", id="bad version"),
        pytest.param(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", id="8 KB target"),
        pytest.param(
            b"GET /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-secret"
            + b"a" * 9000
            + b"\r\n\r\n",
            id="8 KB header line",
        ),
        pytest.param(b"GET /v1/files HTTP/1.1\r\nHost x\r\n\r\n", id="header without colon"),
        pytest.param(
            b"POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            id="two lengths",
        ),
    ],
)
async def test_malformed_http_gets_the_error_body(
    request_bytes: bytes, server: ServerThread, data_dir: pathlib.Path
) -> None:
    # aiohttp refuses these before any of our code runs; the answer is still the API's.
    before = disk(data_dir)
    head, body = await raw_answer(server, request_bytes)
    assert head.split(b" ")[1] == b"400"
    assert b"application/json" in head
    assert b"x-request-id: req_" in head
    error = check_envelope("openai", 400, json.loads(body), None)
    assert "secret" not in error["message"]
    assert "aaaa" not in error["message"]
    assert disk(data_dir) == before


@pytest.mark.anyio
@pytest.mark.parametrize("flavour", ["openai", "azure"])
@pytest.mark.parametrize(("method", "path"), [("GET", "/files"), ("GET", "/nowhere")])
async def test_an_unknown_expectation_gets_417_with_the_error_body(
    flavour: str, method: str, path: str, server: ServerThread
) -> None:
    target = url(server, flavour, path).with_query({"api-version": API_VERSION}).raw_path_qs
    head, body = await raw_answer(
        server,
        f"{method} {target} HTTP/1.1\r\nHost: x\r\nExpect: nope\r\n\r\n".encode(),
    )
    assert head.startswith(b"HTTP/1.1 417 ")
    check_envelope(flavour, 417, json.loads(body), None)


@pytest.mark.anyio
async def test_a_boundary_that_is_not_ascii_is_refused(
    server: ServerThread, data_dir: pathlib.Path
) -> None:
    head, body = await raw_answer(
        server,
        b"POST /v1/files HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {API_KEY}\r\n".encode()
        + b"Content-Type: multipart/form-data; boundary=\x80\r\n"
        + b"Content-Length: 7\r\n\r\n--\x80--\r\n",
    )
    assert head.startswith(b"HTTP/1.1 400 ")
    check_envelope("openai", 400, json.loads(body), None)
