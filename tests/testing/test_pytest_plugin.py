"""The pytest plugin, as a user's project uses it: a test file in a project of its own, run by
pytest in a subprocess, with nothing but the package installed (the plugin comes with it)."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = textwrap.dedent(
    """
    import pathlib

    import pytest


    def test_the_server(files_server):
        root = f"http://127.0.0.1:{files_server.port}"
        assert (files_server.host, files_server.url) == ("127.0.0.1", root)
        assert files_server.openai_base_url == root + "/v1"
        assert files_server.azure_endpoint == root
        assert files_server.api_key.startswith("sk-test-")
        assert (pathlib.Path(files_server.data_dir) / "files").is_dir()


    def test_a_job_with_the_sync_client(files_client):
        made = files_client.files.create(b'{"a": 1}\\n', "fine-tune", filename="train.jsonl")
        assert files_client.files.retrieve(made.id).filename == "train.jsonl"
        assert [f.id for f in files_client.files.iterate()] == [made.id]


    def test_each_test_has_a_fresh_server(files_client):
        assert files_client.files.list().data == []


    @pytest.mark.anyio
    async def test_a_job_with_the_async_client(async_files_client):
        made = await async_files_client.files.create(b"hi", "user_data", filename="hi.txt")
        assert await async_files_client.files.content(made.id) == b"hi"


    def test_the_official_sdk_works_against_it(files_server):
        import openai

        sdk = openai.OpenAI(base_url=files_server.openai_base_url, api_key=files_server.api_key)
        made = sdk.files.create(file=("a.txt", b"x"), purpose="assistants")
        assert sdk.files.retrieve(made.id).bytes == 1
    """
)


def test_the_fixtures_in_a_users_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_users_job=USER_TESTS)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=5)
