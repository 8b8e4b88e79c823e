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


CASES: dict[str, Case] = {
    "no file": Case("POST", "/files", 400, "file", form(PURPOSE)),
    "no purpose": Case("POST", "/files", 400, "purpose", form(FILE)),
    "empty purpose": Case("POST", "/files", 400, "purpose", form(("purpose", None, b""), FILE)),
    "unknown purpose": Case("POST", "/files", 400, "purpose", form(("purpose", None, b"x"), FILE)),
    "purpose after the file, unknown": Case(
        "POST", "/files", 400, "purpose", form(FILE, ("purpose", None, b"x"))
    ),
    "expires_after: JSON field not JSON": Case(
        "POST", "/files", 400, "expires_after", form(PURPOSE, ("expires_after", None, b"{"), FILE)
    ),
    "expires_after: JSON field not an object": Case(
        "POST", "/files", 400, "expires_after", form(PURPOSE, ("expires_after", None, b"[]"), FILE)
    ),
    "expires_after: JSON field and its fields": Case(
        "POST",
        "/files",
        400,
        "expires_after",
        form(
            PURPOSE,
            ("expires_after[anchor]", None, b"created_at"),
            ("expires_after", None, b'{"anchor": "created_at", "seconds": 3600}'),
            FILE,
        ),
    ),
    "expires_after anchor": Case(
        "POST",
        "/files",
        400,
        "expires_after.anchor",
        form(PURPOSE, ("expires_after[anchor]", None, b"now"), FILE),
    ),
    "expires_after too short": Case(
        "POST",
        "/files",
        400,
        "expires_after.seconds",
        form(
            PURPOSE,
            ("expires_after[anchor]", None, b"created_at"),
            ("expires_after[seconds]", None, b"3599"),
            FILE,
        ),
    ),
    "expires_after too long": Case(
        "POST",
        "/files",
        400,
        "expires_after.seconds",
        form(PURPOSE, ("expires_after[seconds]", None, b"2592001"), FILE),
    ),
    "expires_after not a number": Case(
        "POST",
        "/files",
        400,
        "expires_after.seconds",
        form(PURPOSE, ("expires_after[seconds]", None, b"1e4"), FILE),
    ),
    "expires_after without anchor": Case(
        "POST",
        "/files",
        400,
        "expires_after.anchor",
        form(PURPOSE, FILE, ("expires_after[seconds]", None, b"3600")),
    ),
    "expires_after in Arabic-Indic digits": Case(
        "POST",
        "/files",
        400,
        "expires_after.seconds",
        form(
            PURPOSE,
            ("expires_after[anchor]", None, b"created_at"),
            ("expires_after[seconds]", None, "\u0663\u0666\u0660\u0660".encode()),
            FILE,
        ),
    ),
    "expires_after in fullwidth digits": Case(
        "POST",
        "/files",
        400,
        "expires_after.seconds",
        form(
            PURPOSE,
            ("expires_after[anchor]", None, b"created_at"),
            ("expires_after[seconds]", None, "\uff13\uff16\uff10\uff10".encode()),
            FILE,
        ),
    ),
    "filename* in an unknown charset": Case(
        "POST",
        "/files",
        400,
        None,
        PURPOSE_PART
        + f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f"filename*=x-nope''%41\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
    ),
    "filename* in a charset that is not text": Case(
        "POST",
        "/files",
        400,
        None,
        PURPOSE_PART
        + f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f"filename*=rot13''%41\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
    ),
    "batch not jsonl": Case("POST", "/files", 400, "file", form(("purpose", None, b"batch"), FILE)),
    "fine-tune not jsonl": Case(
        "POST", "/files", 400, "file", form(FILE, ("purpose", None, b"fine-tune"))
    ),
    "batch too large": Case(
        "POST",
        "/files",
        413,
        None,
        form(("purpose", None, b"batch"), ("file", "b.jsonl", b"x" * (512 * 1024 + 1))),
    ),
    "batch too large, purpose last": Case(
        "POST",
        "/files",
        413,
        None,
        form(("file", "b.jsonl", b"x" * (512 * 1024 + 1)), ("purpose", None, b"batch")),
    ),
    "file as a text field": Case(
        "POST", "/files", 400, "file", form(PURPOSE, ("file", None, b"x"))
    ),
    "file twice": Case("POST", "/files", 400, "file", form(PURPOSE, FILE, FILE)),
    "purpose twice": Case("POST", "/files", 400, "purpose", form(PURPOSE, PURPOSE, FILE)),
    "unknown field": Case(
        "POST", "/files", 400, "model", form(PURPOSE, ("model", None, b"x"), FILE)
    ),
    "not multipart": Case(
        "POST",
        "/files",
        400,
        None,
        b'{"purpose": "assistants"}',
        {"Content-Type": "application/json"},
    ),
    "multipart without boundary": Case(
        "POST", "/files", 400, None, form(PURPOSE, FILE), {"Content-Type": "multipart/form-data"}
    ),
    "multipart truncated": Case("POST", "/files", 400, None, form(PURPOSE, FILE)[:-30]),
    "multipart garbage": Case("POST", "/files", 400, None, b"this is not a form"),
    "multipart part without name": Case(
        "POST",
        "/files",
        400,
        None,
        f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
    ),
    "multipart header line without colon": Case(
        "POST",
        "/files",
        400,
        None,
        f"--{BOUNDARY}\r\nContent-Disposition form-data\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
    ),
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
    "upload: unknown key": Case(
        "POST",
        "/uploads",
        400,
        "model",
        json.dumps(
            {"bytes": 1, "filename": "a", "mime_type": "t", "purpose": "assistants", "model": 1}
        ).encode(),
        {},
    ),
    "upload: no filename": Case(
        "POST",
        "/uploads",
        400,
        "filename",
        json.dumps({"bytes": 1, "mime_type": "t", "purpose": "assistants"}).encode(),
        {},
    ),
    "upload: negative bytes": Case(
        "POST",
        "/uploads",
        400,
        "bytes",
        json.dumps(
            {"bytes": -1, "filename": "a", "mime_type": "t", "purpose": "assistants"}
        ).encode(),
        {},
    ),
    "upload: too many bytes": Case(
        "POST",
        "/uploads",
        400,
        "bytes",
        json.dumps(
            # Past the Upload limit of both flavours (1 MiB and 1152 KiB here).
            {"bytes": 2**21, "filename": "a", "mime_type": "t", "purpose": "assistants"}
        ).encode(),
        {},
    ),
    "upload: a batch file not named .jsonl": Case(
        "POST",
        "/uploads",
        400,
        "filename",
        json.dumps(
            {"bytes": 1, "filename": "b.txt", "mime_type": "t", "purpose": "batch"}
        ).encode(),
        {},
    ),
    "upload: purpose is a list": Case(
        "POST",
        "/uploads",
        400,
        "purpose",
        json.dumps(
            {"bytes": 1, "filename": "a", "mime_type": "t", "purpose": ["user_data"]}
        ).encode(),
        {},
    ),
    "upload: purpose is an object": Case(
        "POST",
        "/uploads",
        400,
        "purpose",
        json.dumps({"bytes": 1, "filename": "a", "mime_type": "t", "purpose": {}}).encode(),
        {},
    ),
    "upload: JSON nested too deep": Case(
        "POST", "/uploads", 400, None, b"[" * 100_000 + b"]" * 100_000, {}
    ),
    "upload: expires_after of 5000 digits": Case(
        "POST",
        "/uploads",
        400,
        "expires_after.seconds",
        json.dumps(
            {
                "bytes": 1,
                "filename": "a",
                "mime_type": "t",
                "purpose": "assistants",
                "expires_after": {"anchor": "created_at", "seconds": "9" * 5000},
            }
        ).encode(),
        {},
        # Azure's Upload has no expires_after: an unknown argument there.
        azure_param="expires_after",
    ),
    "upload: expires_after in fullwidth digits": Case(
        "POST",
        "/uploads",
        400,
        "expires_after.seconds",
        json.dumps(
            {
                "bytes": 1,
                "filename": "a",
                "mime_type": "t",
                "purpose": "assistants",
                "expires_after": {"anchor": "created_at", "seconds": "\uff13\uff16\uff10\uff10"},
            }
        ).encode(),
        {},
        # Azure's Upload has no expires_after: an unknown argument there.
        azure_param="expires_after",
    ),
    "upload: unknown purpose": Case(
        "POST",
        "/uploads",
        400,
        "purpose",
        json.dumps({"bytes": 1, "filename": "a", "mime_type": "t", "purpose": "x"}).encode(),
        {},
    ),
    "upload: bad expires_after": Case(
        "POST",
        "/uploads",
        400,
        "expires_after.seconds",
        json.dumps(
            {
                "bytes": 1,
                "filename": "a",
                "mime_type": "t",
                "purpose": "assistants",
                "expires_after": {"anchor": "created_at", "seconds": 1},
            }
        ).encode(),
        {},
        # Azure's Upload has no expires_after: an unknown argument there.
        azure_param="expires_after",
    ),
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
