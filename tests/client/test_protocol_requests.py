"""Request specs for OpenAI and Azure, and file id checks; pure, no event loop."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

import aikit_files as af
from aikit_files._config import ClientConfig
from aikit_files._protocol.multipart import build_form
from aikit_files._protocol.requests import Endpoint, FormBody, check_file_id, file_path
from aikit_files._protocol.sources import describe_source


def openai_endpoint(organization: str | None = None, project: str | None = None) -> Endpoint:
    return Endpoint(
        ClientConfig.resolve(
            "sk-secret",
            base_url="https://api.example/v1",
            organization=organization,
            project=project,
            environ={},
        )
    )


def azure_endpoint() -> Endpoint:
    return Endpoint(
        ClientConfig.resolve(
            "az-secret", base_url="https://res.openai.azure.com/", provider="azure", environ={}
        )
    )


def test_openai_headers_and_urls() -> None:
    endpoint = openai_endpoint(organization="org-1", project="proj-1")
    spec = endpoint.retrieve_file("file-abc")
    assert spec.method == "GET"
    assert spec.url == "https://api.example/v1/files/file-abc"
    assert spec.query == {}
    assert spec.headers["Authorization"] == "Bearer sk-secret"
    assert spec.headers["OpenAI-Organization"] == "org-1"
    assert spec.headers["OpenAI-Project"] == "proj-1"
    assert "api-key" not in spec.headers


def a_form() -> FormBody:
    form = build_form([("purpose", "user_data")], filename="a.txt", content_type="text/plain")
    return FormBody(form, describe_source(b"hello"))


def test_openai_without_organization_sends_no_such_header() -> None:
    headers = openai_endpoint().create_file(a_form()).headers
    assert "OpenAI-Organization" not in headers
    assert "OpenAI-Project" not in headers


def test_azure_headers_and_urls() -> None:
    endpoint = azure_endpoint()
    spec = endpoint.delete_file("file-abc")
    assert spec.method == "DELETE"
    assert spec.url == "https://res.openai.azure.com/openai/files/file-abc"
    assert spec.query == {"api-version": "2024-10-21"}
    assert spec.headers["api-key"] == "az-secret"
    assert "Authorization" not in spec.headers


def test_azure_list_keeps_api_version_beside_filters() -> None:
    spec = azure_endpoint().list_files(af.FileListParameters(purpose="batch", limit=3))
    assert spec.url == "https://res.openai.azure.com/openai/files"
    assert spec.query == {"api-version": "2024-10-21", "purpose": "batch", "limit": "3"}


def test_list_query_carries_every_filter() -> None:
    params = af.FileListParameters(purpose="batch", limit=10, order="asc", after="file-9")
    spec = openai_endpoint().list_files(params)
    assert spec.query == {"purpose": "batch", "limit": "10", "order": "asc", "after": "file-9"}


def test_content_accepts_any_type() -> None:
    spec = openai_endpoint().file_content("file-abc")
    assert spec.url.endswith("/files/file-abc/content")
    assert spec.headers["Accept"] == "*/*"


def test_key_is_not_in_reprs() -> None:
    endpoint = openai_endpoint()
    assert "sk-secret" not in repr(endpoint)
    assert "sk-secret" not in repr(endpoint.create_file(a_form()))


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", af.InvalidArgumentError),
        ("a/b", af.InvalidArgumentError),
        ("..", af.InvalidArgumentError),
        ("file-..-x", af.InvalidArgumentError),
        ("file\n1", af.InvalidArgumentError),
        ("file\x7f", af.InvalidArgumentError),
        (None, af.InvalidArgumentTypeError),
        (12, af.InvalidArgumentTypeError),
        (b"file-1", af.InvalidArgumentTypeError),
    ],
)
def test_bad_file_ids(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_file_id(value)


def check_ok(value: str) -> bool:
    try:
        check_file_id(value)
    except af.InvalidArgumentError:
        return False
    return True


@given(st.text(min_size=1).filter(check_ok))
def test_file_path_quotes_and_round_trips(file_id: str) -> None:
    path = file_path(file_id)
    segment = path.removeprefix("/files/")
    assert not {"/", "?", "#"} & set(segment)
    assert urllib.parse.unquote(segment) == file_id
