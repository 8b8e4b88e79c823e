"""What the specs and HTTP ask of every answer: ``Allow`` on a 405, Azure's bodies without nulls,
the API versions served, a foreign ``after`` cursor, ``expires_after`` as a JSON form field."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import pytest

from aikit_files.server import ServerThread
from aikit_files.server._app import _AZURE_ROUTES, _ROUTES

from .conftest import API_VERSION, MULTIPART, auth, check_envelope, form, url

ROUTES = [(flavour, path, method) for method, path, _ in _ROUTES for flavour in ("openai", "azure")]
ROUTES += [("azure", path, method) for method, path, _ in _AZURE_ROUTES]


def _concrete(path: str) -> str:
    return re.sub(r"\{file_id[^}]*\}", "file-x", path).replace("{upload_id}", "upload_x")


def _segment(match: re.Match[str]) -> str:
    """The regex of a route's ``{name}`` or ``{name:regex}``, as aiohttp reads it."""
    return f"(?:{match[1]})" if match[1] else "[^/]+"


def _served(flavour: str, path: str) -> set[str]:
    """The methods of every route of ``flavour`` whose pattern matches ``path`` (``/files/import``
    is also a ``/files/{file_id}``)."""
    routes = _ROUTES + (_AZURE_ROUTES if flavour == "azure" else ())
    return {
        method
        for method, pattern, _ in routes
        if re.fullmatch(re.sub(r"\{\w+(?::([^}]*))?\}", _segment, pattern), path)
    }


def _query(flavour: str) -> dict[str, str]:
    return {"api-version": API_VERSION} if flavour == "azure" else {}


def _nulls(value: Any, where: str = "") -> list[str]:
    """Where ``value`` (JSON) holds a null."""
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _nulls(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in _nulls(item, f"{where}[{i}]")]
    return [where] if value is None else []


@pytest.mark.anyio
@pytest.mark.parametrize(("flavour", "path", "method"), ROUTES)
async def test_a_405_names_the_methods_allowed(
    flavour: str, path: str, method: str, server: ServerThread, session: aiohttp.ClientSession
) -> None:
    path = _concrete(path)
    target = url(server, flavour, path)
    async with session.request(
        "PATCH", target.with_query(_query(flavour)), headers=auth(flavour)
    ) as response:
        assert response.status == 405
        check_envelope(flavour, 405, await response.json(), None)
        allowed = {name.strip() for name in response.headers["Allow"].split(",")}
    assert allowed == _served(flavour, path)
    assert method in allowed


@pytest.mark.anyio
@pytest.mark.parametrize("version", ["1999-01-01", "2024-10-21-preview", "2099-01-01"])
async def test_azure_refuses_an_api_version_it_does_not_serve(
    version: str, server: ServerThread, session: aiohttp.ClientSession
) -> None:
    async with session.get(
        url(server, "azure", "/files").with_query({"api-version": version}), headers=auth("azure")
    ) as response:
        assert response.status == 400
        error = check_envelope("azure", 400, await response.json(), "api-version")
    assert error["code"] == "invalidPayload"
    assert "2024-10-21" in error["message"]


@pytest.mark.anyio
@pytest.mark.parametrize("after", ["file-abc123", "../x", "x" * 300])
async def test_an_after_cursor_of_another_pattern_is_an_unknown_id(
    flavour: str, after: str, server: ServerThread, session: aiohttp.ClientSession
) -> None:
    headers = {**auth(flavour), **MULTIPART}
    files = url(server, flavour, "/files").with_query(_query(flavour))
    async with session.post(
        files, data=form(("purpose", None, b"assistants"), FILE), headers=headers
    ):
        pass
    async with session.get(files.update_query(after=after), headers=auth(flavour)) as response:
        assert response.status == 200
        page = await response.json()
    assert page["data"] == []
    assert page["has_more"] is False


FILE = ("file", "a.txt", b"hello")


@pytest.mark.anyio
async def test_expires_after_as_a_json_form_field(
    flavour: str, server: ServerThread, session: aiohttp.ClientSession
) -> None:
    policy = json.dumps({"anchor": "created_at", "seconds": 3600}).encode()
    async with session.post(
        url(server, flavour, "/files").with_query(_query(flavour)),
        data=form(("purpose", None, b"assistants"), ("expires_after", None, policy), FILE),
        headers={**auth(flavour), **MULTIPART},
    ) as response:
        assert response.status in (200, 201)
        created = await response.json()
    assert created["expires_at"] == created["created_at"] + 3600


@pytest.mark.anyio
async def test_azure_success_bodies_carry_no_null(
    server: ServerThread, session: aiohttp.ClientSession
) -> None:
    headers = auth("azure")
    query = _query("azure")

    async def call(method: str, path: str, **request: Any) -> Any:
        request.setdefault("headers", headers)
        async with session.request(
            method, url(server, "azure", path).with_query(query), **request
        ) as response:
            assert response.status in (200, 201), await response.text()
            return await response.json()

    answers = [
        # pending: no status_details yet; no expiry
        await call(
            "POST",
            "/files",
            data=form(("purpose", None, b"assistants"), FILE),
            headers={**headers, **MULTIPART},
        ),
        # pending, its bytes not fetched yet (nothing listens on port 9)
        await call(
            "POST",
            "/files/import",
            json={
                "purpose": "assistants",
                "filename": "i.txt",
                "content_url": "http://127.0.0.1:9/x",
            },
        ),
        # an Upload without its file
        await call(
            "POST",
            "/uploads",
            json={
                "purpose": "assistants",
                "filename": "u.txt",
                "mime_type": "text/plain",
                "bytes": 1,
            },
        ),
    ]
    answers.append(await call("GET", "/files"))
    answers.append(await call("POST", f"/uploads/{answers[2]['id']}/cancel"))
    for answer in answers:
        assert _nulls(answer) == [], answer
    assert "bytes" not in answers[1]
    assert "file" not in answers[2]


@pytest.mark.anyio
async def test_openai_success_bodies_keep_their_nulls(
    server: ServerThread, session: aiohttp.ClientSession
) -> None:
    async with session.post(
        url(server, "openai", "/uploads"),
        json={"purpose": "assistants", "filename": "u.txt", "mime_type": "text/plain", "bytes": 1},
        headers=auth("openai"),
    ) as response:
        assert (await response.json())["file"] is None


@pytest.mark.anyio
@pytest.mark.parametrize("query", [{}, {"api-version": ""}, {"api-version": "1999-01-01"}])
async def test_a_method_no_route_serves_is_a_405_whatever_the_api_version(
    query: dict[str, str], server: ServerThread, session: aiohttp.ClientSession
) -> None:
    async with session.request(
        "TRACE", url(server, "azure", "/files").with_query(query), headers=auth("azure")
    ) as response:
        assert response.status == 405
        check_envelope("azure", 405, await response.json(), None)
        assert response.headers["Allow"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("purpose", "status"), [("batch_output", 200), ("assistants", 200), ("nope", 400), ("", 400)]
)
async def test_azure_lists_by_the_purposes_of_its_spec(
    purpose: str, status: int, server: ServerThread, session: aiohttp.ClientSession
) -> None:
    query = {"api-version": API_VERSION, "purpose": purpose}
    async with session.get(
        url(server, "azure", "/files").with_query(query), headers=auth("azure")
    ) as response:
        assert response.status == status
        if status == 400:
            check_envelope("azure", 400, await response.json(), "purpose")


@pytest.mark.anyio
async def test_azure_import_route_names_its_one_method(
    server: ServerThread, session: aiohttp.ClientSession
) -> None:
    async with session.get(
        url(server, "azure", "/files/import").with_query({"api-version": API_VERSION}),
        headers=auth("azure"),
    ) as response:
        assert response.status == 405
        assert response.headers["Allow"] == "POST"
