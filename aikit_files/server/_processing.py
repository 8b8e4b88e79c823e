"""Azure's background processing of files: the fetch of an import, and the JSON Lines check.

A file made on the Azure routes has no outcome when it is accepted; the ``Processor`` finds one
(``processed``, or ``error`` with ``status_details``) and stores it. What clients see meanwhile,
``pending`` then ``running``, follows from timestamps (``FileRecord.status``), not from timers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pathlib
from collections.abc import Coroutine
from typing import Any, Final

import aiohttp
import attrs
import yarl

from ._errors import DISK_FULL, StorageFull
from ._fetch import Refused, fetch, shown_url
from ._records import FileRecord
from ._rules import JSONL_PURPOSES, Settings
from ._storage import Store

log = logging.getLogger("aikit_files.server")

#: Longest line the JSON Lines check reads; a longer one makes the file invalid.
MAX_JSONL_LINE: Final = 16 * 1024 * 1024


class ImportFailed(Exception):
    """The import's content could not be fetched."""


def jsonl_problem(path: pathlib.Path) -> str | None:
    """Why the file at ``path`` is not valid JSON Lines (one JSON object a line), or None.

    Reads line by line, never more than ``MAX_JSONL_LINE`` bytes at once (blocking I/O).
    """
    records = 0
    with path.open("rb") as handle:
        number = 0
        while line := handle.readline(MAX_JSONL_LINE + 1):
            number += 1
            if len(line) > MAX_JSONL_LINE:
                return f"Line {number} is longer than {MAX_JSONL_LINE} bytes."
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as error:
                return f"Line {number} is not valid JSON: {error}."
            if not isinstance(value, dict):
                return f"Line {number} is not a JSON object."
            records += 1
    return None if records else "The file contains no JSON lines."


def _import_failure(error: Exception, expired: bool, timeout: float) -> str:
    """Why an import failed, in words for its ``status_details``."""
    if expired:
        return f"the import took longer than {timeout:g} seconds, the server's import timeout"
    if isinstance(error, OSError) and error.errno in DISK_FULL:
        return "the server's disk is full"
    reason = error if isinstance(error, ImportFailed) else type(error).__name__
    return f"the content could not be fetched ({reason})"


class Processor:
    """Runs the background processing of Azure files, and stops it with the server."""

    def __init__(self, store: Store, settings: Settings):
        self._store = store
        self._settings = settings
        self._tasks: set[asyncio.Task[object]] = set()

    def _spawn(self, coroutine: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def process(self, record: FileRecord) -> None:
        """Checks a file's content in the background, then stores its outcome."""
        self._spawn(self._process(record))

    def start_import(self, record: FileRecord, url: yarl.URL) -> None:
        """Fetches a file's content from ``url`` in the background, then processes it."""
        self._spawn(self._import(record, url))

    def recover(self, records: list[FileRecord]) -> None:
        """Resumes the processing a restart interrupted; an interrupted import has failed."""
        for record in records:
            if record.bytes is None:
                self._spawn(self._fail(record, "The import was interrupted by a server restart."))
            else:
                self.process(record)

    async def close(self) -> None:
        """Cancels the processing still running, and waits for it to end."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _process(self, record: FileRecord) -> None:
        problem = None
        if record.purpose in JSONL_PURPOSES:
            path = self._store.content_path(record.id)
            problem = await asyncio.to_thread(jsonl_problem, path)
        await self._store.update(
            attrs.evolve(
                record,
                outcome="error" if problem else "processed",
                status_details=f"Invalid JSON Lines file. {problem}" if problem else None,
            )
        )

    async def _fail(self, record: FileRecord, details: str) -> None:
        await self._store.update(attrs.evolve(record, outcome="error", status_details=details))

    async def _import(self, record: FileRecord, url: yarl.URL) -> None:
        limit = self._settings.limit_for(record.purpose)
        # NOTE: the deadline spans the whole fetch (redirects, every byte), not the commit that
        # follows: an upstream that trickles a byte now and then never holds an import open.
        deadline = asyncio.timeout(self._settings.import_timeout)
        try:
            async with self._store.receive() as content:
                async with deadline:
                    async with fetch(
                        url, allow_private=self._settings.allow_private_import
                    ) as response:
                        if response.status != 200:
                            raise ImportFailed(f"GET {shown_url(url)} answered {response.status}")
                        async for chunk in response.content.iter_any():
                            if content.size + len(chunk) > limit:
                                raise ImportFailed(f"the content exceeds {limit} bytes")
                            if content.size + len(chunk) > self._store.quota.room():
                                raise self._store.quota.refusal()
                            await content.write(chunk)
                    await content.finish()
                record = attrs.evolve(record, bytes=content.size)
                if not await self._store.update(record, content):
                    return
        except StorageFull as error:
            await self._fail(record, f"quotaExceeded: {error.message}")
            return
        except Refused as error:
            log.info("import of %s refused: %s", record.id, error)
            await self._fail(record, f"fileImportFailed: {error}.")
            return
        except (ImportFailed, aiohttp.ClientError, TimeoutError, OSError) as error:
            reason = _import_failure(error, deadline.expired(), self._settings.import_timeout)
            log.info("import of %s failed: %s", record.id, reason)
            await self._fail(record, f"fileImportFailed: {reason}.")
            return
        await self._process(record)
