"""Every bad argument raises at once, before any I/O: no request reaches the server, no callback fires."""

from __future__ import annotations

import asyncio
import functools
import io
import math
import os
import pathlib
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from faults import FaultServer, client_options

import aikit_files as af

pytestmark = pytest.mark.anyio

Call = Callable[[af.AsyncFilesAPI], object]


@pytest.fixture
def sample(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "sample.txt"
    path.write_bytes(b"sample")
    return path


@pytest.fixture
def huge(tmp_path: pathlib.Path) -> pathlib.Path:
    """A sparse file one byte over the Uploads API's limit of 8 GiB (it takes no disk space)."""
    path = tmp_path / "huge.bin"
    with path.open("wb") as file:
        file.truncate(8 * 1024**3 + 1)
    return path


@pytest.fixture
def fifo(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


@pytest.fixture
def text_file(sample: pathlib.Path) -> Iterator[io.TextIOWrapper]:
    with sample.open() as file:
        yield file


def create_with(file: Any, files: af.AsyncFilesAPI) -> object:
    return files.create(file, "assistants")


def download_to(destination: Any, files: af.AsyncFilesAPI) -> object:
    return files.download("file-1", destination)


def closed_file() -> io.BytesIO:
    file = io.BytesIO(b"x")
    file.close()
    return file


async def check(
    fault_server: FaultServer, call: Call, error: type[Exception] = af.InvalidArgumentError
) -> None:
    """``call`` raises ``error`` synchronously, and nothing reaches the server afterwards."""
    async with af.AsyncClient(**client_options(fault_server)) as client:
        with pytest.raises(error):
            call(client.files)
        # Give anything wrongly started a chance to run: nothing may reach the server.
        await asyncio.sleep(0.01)
    assert fault_server.requests == []


@pytest.mark.parametrize(
    ("purpose", "error"),
    [
        ("", af.InvalidArgumentError),
        (None, af.InvalidArgumentTypeError),
        (3, af.InvalidArgumentTypeError),
        (b"batch", af.InvalidArgumentTypeError),
    ],
)
async def test_create_purpose(
    fault_server: FaultServer, sample: pathlib.Path, purpose: Any, error: type[Exception]
) -> None:
    await check(fault_server, lambda f: f.create(sample, purpose), error)


async def test_create_file_sources(
    fault_server: FaultServer,
    tmp_path: pathlib.Path,
    huge: pathlib.Path,
    fifo: pathlib.Path,
    text_file: io.TextIOWrapper,
) -> None:
    bad: list[tuple[object, type[Exception]]] = [
        (tmp_path / "missing.txt", af.InvalidArgumentError),
        (str(tmp_path / "missing.txt"), af.InvalidArgumentError),
        (tmp_path, af.InvalidArgumentError),
        ("", af.InvalidArgumentError),
        (fifo, af.InvalidArgumentError),
        (huge, af.InvalidArgumentError),
        (text_file, af.InvalidArgumentTypeError),
        (io.StringIO("text"), af.InvalidArgumentTypeError),
        (closed_file(), af.InvalidArgumentError),
        (None, af.InvalidArgumentTypeError),
        (42, af.InvalidArgumentTypeError),
        (["a"], af.InvalidArgumentTypeError),
        ({"file": b"x"}, af.InvalidArgumentTypeError),
    ]
    for file, error in bad:
        await check(fault_server, functools.partial(create_with, file), error)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"filename": ""}, af.InvalidArgumentError),
        ({"filename": "a\nb.txt"}, af.InvalidArgumentError),
        ({"filename": 12}, af.InvalidArgumentTypeError),
        ({"content_type": ""}, af.InvalidArgumentError),
        ({"content_type": "text/plain\r\nX-Injected: 1"}, af.InvalidArgumentError),
        ({"content_type": 1}, af.InvalidArgumentTypeError),
        ({"expires_after": {"anchor": "created_at", "seconds": 3599}}, af.InvalidArgumentError),
        ({"expires_after": {"seconds": 2_592_001}}, af.InvalidArgumentError),
        ({"expires_after": {"anchor": "last_used", "seconds": 3600}}, af.InvalidArgumentError),
        ({"expires_after": {"seconds": 3600, "extra": 1}}, af.InvalidArgumentError),
        ({"expires_after": {"seconds": "3600"}}, af.InvalidArgumentTypeError),
        ({"expires_after": 3600}, af.InvalidArgumentTypeError),
        ({"on_progress": "print"}, af.InvalidArgumentTypeError),
        ({"unknown_option": 1}, af.InvalidArgumentTypeError),
    ],
)
async def test_create_options(
    fault_server: FaultServer, sample: pathlib.Path, options: dict[str, Any], error: type[Exception]
) -> None:
    await check(fault_server, lambda f: f.create(sample, "assistants", **options), error)


def test_expires_after_is_checked_when_built() -> None:
    with pytest.raises(af.InvalidArgumentError):
        af.ExpiresAfter(seconds=3599)
    with pytest.raises(af.InvalidArgumentError):
        af.ExpiresAfter(seconds=2_592_001)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"timeout": -1}, af.InvalidArgumentError),
        ({"timeout": 0}, af.InvalidArgumentError),
        ({"timeout": math.nan}, af.InvalidArgumentError),
        ({"timeout": "10"}, af.InvalidArgumentTypeError),
        ({"max_retries": -1}, af.InvalidArgumentError),
        ({"max_retries": 1.5}, af.InvalidArgumentTypeError),
        ({"max_retries": "2"}, af.InvalidArgumentTypeError),
        ({"extra_headers": {"X-A": 1}}, af.InvalidArgumentTypeError),
        ({"extra_headers": {"X-A": "a\r\nb"}}, af.InvalidArgumentError),
        ({"extra_headers": {"X-A": "a\x01b"}}, af.InvalidArgumentError),
        ({"extra_headers": {"bad name": "b"}}, af.InvalidArgumentError),
        ({"extra_headers": {"": "b"}}, af.InvalidArgumentError),
        ({"extra_headers": "X-A: b"}, af.InvalidArgumentTypeError),
        # The framing of the request is the client's: a caller could desynchronise the
        # connection (a Content-Length of 150 on a 1.4 KB body smuggles a second request).
        ({"extra_headers": {"Content-Length": "150"}}, af.InvalidArgumentError),
        ({"extra_headers": {"transfer-encoding": "chunked"}}, af.InvalidArgumentError),
        ({"extra_headers": {"Host": "elsewhere"}}, af.InvalidArgumentError),
        ({"extra_headers": {"Connection": "close"}}, af.InvalidArgumentError),
        ({"on_response": "not callable"}, af.InvalidArgumentTypeError),
        ({"on_terminate": 3}, af.InvalidArgumentTypeError),
    ],
)
async def test_common_options_on_every_method(
    fault_server: FaultServer,
    sample: pathlib.Path,
    tmp_path: pathlib.Path,
    options: dict[str, Any],
    error: type[Exception],
) -> None:
    calls: list[Call] = [
        lambda f: f.create(sample, "assistants", **options),
        lambda f: f.retrieve("file-1", **options),
        lambda f: f.list(**options),
        lambda f: f.delete("file-1", **options),
        lambda f: f.content("file-1", **options),
        lambda f: f.download("file-1", tmp_path / "out", **options),
        lambda f: f.wait_for_processing("file-1", **options),
    ]
    for call in calls:
        await check(fault_server, call, error)


def test_expires_after_takes_keywords_only() -> None:
    with pytest.raises(TypeError):
        typing.cast(Any, af.ExpiresAfter)("created_at", 3600)
    assert af.ExpiresAfter(anchor="created_at", seconds=3600).seconds == 3600


def test_timeout_object_is_checked_when_built() -> None:
    with pytest.raises(af.InvalidArgumentError):
        af.Timeout(connect=-1)
    with pytest.raises(af.InvalidArgumentError):
        af.Timeout(total=0)


@pytest.mark.parametrize(
    ("file_id", "error"),
    [
        ("", af.InvalidArgumentError),
        ("a/b", af.InvalidArgumentError),
        ("..", af.InvalidArgumentError),
        ("../etc/passwd", af.InvalidArgumentError),
        ("file-1..2", af.InvalidArgumentError),
        ("file-\n", af.InvalidArgumentError),
        # "/files/." would be sent as "/files/", and "/files/./content" as "/files/content".
        (".", af.InvalidArgumentError),
        (None, af.InvalidArgumentTypeError),
        (7, af.InvalidArgumentTypeError),
    ],
)
async def test_file_ids(
    fault_server: FaultServer, tmp_path: pathlib.Path, file_id: Any, error: type[Exception]
) -> None:
    calls: list[Call] = [
        lambda f: f.retrieve(file_id),
        lambda f: f.delete(file_id),
        lambda f: f.content(file_id),
        lambda f: f.download(file_id, tmp_path / "out"),
        lambda f: f.wait_for_processing(file_id),
    ]
    for call in calls:
        await check(fault_server, call, error)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"limit": 0}, af.InvalidArgumentError),
        ({"limit": 10_001}, af.InvalidArgumentError),
        ({"limit": "10"}, af.InvalidArgumentTypeError),
        ({"limit": True}, af.InvalidArgumentTypeError),
        ({"order": "up"}, af.InvalidArgumentError),
        ({"order": "ASC"}, af.InvalidArgumentError),
        ({"purpose": ""}, af.InvalidArgumentError),
        ({"purpose": 3}, af.InvalidArgumentTypeError),
        ({"after": ""}, af.InvalidArgumentError),
        ({"filename": "a.txt"}, af.InvalidArgumentTypeError),
    ],
)
async def test_list_and_iterate(
    fault_server: FaultServer, options: dict[str, Any], error: type[Exception]
) -> None:
    await check(fault_server, lambda f: f.list(**options), error)
    await check(fault_server, lambda f: f.iterate(**options), error)


async def test_create_takes_no_content_type_header(
    fault_server: FaultServer, sample: pathlib.Path
) -> None:
    # The client frames the form: its Content-Type carries the boundary.
    headers = {"Content-Type": "text/plain"}
    await check(fault_server, lambda f: f.create(sample, "assistants", extra_headers=headers))


async def test_other_headers_may_be_overridden(fault_server: FaultServer) -> None:
    headers = {"Authorization": "Bearer other", "Content-Type": "text/plain", "X-Trace": "1"}
    async with af.AsyncClient(**client_options(fault_server)) as client:
        await client.files.retrieve("file-1", extra_headers=headers)
    (request,) = fault_server.requests
    assert request.headers["Authorization"] == "Bearer other"
    assert request.headers["X-Trace"] == "1"


async def test_iterate_takes_no_callbacks(fault_server: FaultServer) -> None:
    await check(fault_server, lambda f: f.iterate(on_response=print))  # type: ignore[call-arg]
    await check(fault_server, lambda f: f.iterate(af.FileListParameters(on_terminate=print)))


async def test_parameters_of_the_wrong_kind(
    fault_server: FaultServer, sample: pathlib.Path
) -> None:
    await check(
        fault_server,
        lambda f: f.retrieve("file-1", 12),  # type: ignore[arg-type]
        af.InvalidArgumentTypeError,
    )
    await check(fault_server, lambda f: f.retrieve("file-1", af.FileListParameters(limit=3)))
    await check(
        fault_server, lambda f: f.create(sample, "assistants", af.FileListParameters(limit=3))
    )


async def test_download_destinations(fault_server: FaultServer, tmp_path: pathlib.Path) -> None:
    bad: list[tuple[object, type[Exception]]] = [
        (tmp_path, af.InvalidArgumentError),
        (tmp_path / "missing-dir" / "out.bin", af.InvalidArgumentError),
        ("", af.InvalidArgumentError),
        (None, af.InvalidArgumentTypeError),
        (3, af.InvalidArgumentTypeError),
        (str(tmp_path / "nul\0here.bin"), af.InvalidArgumentError),
        (tmp_path / ("n" * 300), af.InvalidArgumentError),
        (tmp_path / ("é" * 128 + ".bin"), af.InvalidArgumentError),  # 260 bytes in UTF-8
    ]
    for destination, error in bad:
        await check(fault_server, functools.partial(download_to, destination), error)
    await check(
        fault_server,
        lambda f: f.download("file-1", tmp_path / "out", on_progress=3),  # type: ignore[call-overload]
        af.InvalidArgumentTypeError,
    )


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"poll_interval": 0}, af.InvalidArgumentError),
        ({"poll_interval": -1}, af.InvalidArgumentError),
        ({"poll_interval": "1"}, af.InvalidArgumentTypeError),
        ({"max_wait": 0}, af.InvalidArgumentError),
        ({"max_wait": math.nan}, af.InvalidArgumentError),
        ({"max_wait": None}, af.InvalidArgumentTypeError),
    ],
)
async def test_wait_for_processing(
    fault_server: FaultServer, options: dict[str, Any], error: type[Exception]
) -> None:
    await check(fault_server, lambda f: f.wait_for_processing("file-1", **options), error)


async def test_no_callback_fires_on_a_bad_argument(fault_server: FaultServer) -> None:
    fired: list[af.Result] = []
    params = af.Parameters(
        on_response=fired.append, on_error=fired.append, on_terminate=fired.append
    )
    async with af.AsyncClient(**client_options(fault_server)) as client:
        with pytest.raises(af.InvalidArgumentError):
            client.files.retrieve("", params)
        with pytest.raises(af.InvalidArgumentError):
            client.files.create(b"x", "", params)
        with pytest.raises(af.InvalidArgumentError):
            client.files.list(
                limit=0,
                on_response=fired.append,
                on_error=fired.append,
                on_terminate=fired.append,
            )
        await asyncio.sleep(0.05)
    assert fired == []
    assert fault_server.requests == []


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"provider": "aws"}, af.InvalidArgumentError),
        ({"timeout": -1}, af.InvalidArgumentError),
        ({"max_retries": -1}, af.InvalidArgumentError),
        ({"base_url": "ftp://example"}, af.InvalidArgumentError),
        ({"base_url": "http://"}, af.InvalidArgumentError),
        ({"base_url": "https:///v1"}, af.InvalidArgumentError),
        # Paths are added to the base URL: a query would land in their middle.
        ({"base_url": "https://api.example/v1?x=1"}, af.InvalidArgumentError),
        ({"base_url": "https://api.example/v1#top"}, af.InvalidArgumentError),
        ({"base_url": "https://api.example:99999/v1"}, af.InvalidArgumentError),
        ({"api_key": 12}, af.InvalidArgumentTypeError),
        ({"session": "a session"}, af.InvalidArgumentTypeError),
    ],
)
def test_client_arguments(arguments: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        af.AsyncClient(**{"api_key": "sk-x", **arguments})


def test_client_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    with pytest.raises(af.InvalidArgumentError, match="OPENAI_API_KEY"):
        af.AsyncClient()
    with pytest.raises(af.InvalidArgumentError, match="AZURE_OPENAI_API_KEY"):
        af.AsyncClient(provider="azure", base_url="https://r.openai.azure.com")
