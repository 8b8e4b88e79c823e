"""A full disk: a file or a Part that does not fit is a 507 with the flavour's error body, one
log line without a traceback, and nothing of it left on disk; the server serves on."""

from __future__ import annotations

import io
import logging
import pathlib
import subprocess
import uuid
from collections.abc import Iterator

import aiohttp
import pytest

from aikit_files.server import ServerThread

from .conftest import API_KEY, API_VERSION, MULTIPART, auth, check_envelope, form, url

#: The small filesystem's size: room for the layout and a few small files, not for a large one.
SIZE = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A 1 MiB tmpfs mounted for the test; skipped where mounting is not allowed."""
    mountpoint = tmp_path / f"disk-{uuid.uuid4().hex}"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0700", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(
            "a full disk needs a small filesystem, and this machine does not let the test mount "
            f"one (mount -t tmpfs: {mounted.stderr.decode(errors='replace').strip()})"
        )
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def _leftovers(data_dir: pathlib.Path) -> list[str]:
    """What the server keeps that is not metadata or a layout directory."""
    return sorted(
        str(path.relative_to(data_dir))
        for path in data_dir.rglob("*")
        if path.is_file() and path.suffix != ".json"
    )


@pytest.mark.anyio
async def test_a_full_disk_is_a_507_and_leaves_nothing(
    flavour: str,
    small_disk: pathlib.Path,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data_dir = small_disk / "data"
    query = {"api-version": API_VERSION} if flavour == "azure" else {}
    headers = {**auth(flavour), **MULTIPART}
    big = form(("purpose", None, b"assistants"), ("file", "big.txt", b"x" * 2 * SIZE))
    with (
        caplog.at_level(logging.INFO, logger="aikit_files.server"),
        ServerThread(data_dir, api_key=API_KEY) as server,
    ):
        files = url(server, flavour, "/files").with_query(query)
        async with session.post(files, data=io.BytesIO(big), headers=headers) as response:
            assert response.status == 507
            error = check_envelope(flavour, 507, await response.json(), None)
        assert "disk is full" in error["message"]
        assert _leftovers(data_dir) == []

        # A Part: the same answer, nothing kept.
        async with session.post(
            url(server, flavour, "/uploads").with_query(query),
            json={
                "purpose": "assistants",
                "filename": "u.txt",
                "mime_type": "t",
                "bytes": 2 * SIZE,
            },
            headers=auth(flavour),
        ) as response:
            upload_id = (await response.json())["id"]
        async with session.post(
            url(server, flavour, f"/uploads/{upload_id}/parts").with_query(query),
            data=io.BytesIO(form(("data", "blob", b"x" * 2 * SIZE))),
            headers=headers,
        ) as response:
            assert response.status == 507
            check_envelope(flavour, 507, await response.json(), None)
        assert _leftovers(data_dir) == []

        # The server serves on: a file that fits is stored.
        small = form(("purpose", None, b"assistants"), ("file", "small.txt", b"hello"))
        async with session.post(files, data=small, headers=headers) as response:
            assert response.status in (200, 201)
    assert not [record for record in caplog.records if record.exc_info]
    assert any("disk is full" in record.getMessage() for record in caplog.records)
