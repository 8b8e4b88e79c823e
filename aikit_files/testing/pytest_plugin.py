"""A pytest plugin with a local Files API server and clients of it, for users' own tests.

Installed with the package (the ``pytest11`` entry point), it gives any test suite three
fixtures:

- ``files_server``: the local Files API server, running on loopback for one test, with a fresh
  data directory: ``.url`` (the root URL), ``.openai_base_url`` (with ``/v1``),
  ``.azure_endpoint``, ``.api_key``, ``.host``, ``.port`` and ``.data_dir``.
- ``files_client``: an ``af.Client`` of it.
- ``async_files_client``: an ``af.AsyncClient`` of it, for async tests marked
  ``@pytest.mark.anyio``: anyio, a dependency of the package, brings the pytest plugin that
  runs them (on asyncio, anyio's default backend; where trio is installed, anyio also tries
  trio, which the client does not run on, unless an ``anyio_backend`` fixture says asyncio).

::

    def test_my_upload_job(files_client):
        made = files_client.files.create(b"{}\\n", "fine-tune", filename="train.jsonl")
        assert files_client.files.retrieve(made.id).filename == "train.jsonl"
"""

from __future__ import annotations

import pathlib
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest

import aikit_files as af
from aikit_files.server import ServerThread


@pytest.fixture
def files_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """The local Files API server on loopback, with a fresh data directory and its own key."""
    data: pathlib.Path = tmp_path_factory.mktemp("files-server")
    with ServerThread(data, api_key=f"sk-test-{secrets.token_hex(8)}") as server:
        yield server


@pytest.fixture
def files_client(files_server: ServerThread) -> Iterator[af.Client]:
    """An ``af.Client`` of ``files_server``, closed after the test."""
    with af.Client(files_server.api_key, base_url=files_server.openai_base_url) as client:
        yield client


# NOTE: a plain pytest fixture, not pytest-asyncio's: anyio's plugin runs it in the loop of
# the anyio test that asks for it (with pytest-asyncio's decorator, the fixture would make the
# client in one loop and the test would use it in another).
@pytest.fixture
async def async_files_client(files_server: ServerThread) -> AsyncIterator[af.AsyncClient]:
    """An ``af.AsyncClient`` of ``files_server``, closed after the test."""
    async with af.AsyncClient(files_server.api_key, base_url=files_server.openai_base_url) as c:
        yield c
