"""The server's on-disk store: atomic writes, the file index, listing order, expiry, recovery.

Layout of the data directory::

    files/<file id>.json     a file's metadata: its presence is what makes the file exist
    files/<file id>          its content
    uploads/<upload id>/     an Upload: upload.json and one file per Part
    tmp/                     what is being received; emptied at startup
    quarantine/              metadata found corrupt at startup, with what it described

Everything is first written under ``tmp/``, fsynced, then renamed into place, so a crash leaves
either the old state or the new one, plus leftovers in ``tmp/`` that the next start removes.
Content is renamed into place before its metadata, and metadata is removed before its content,
so content without metadata is an orphan of a crash, removed at startup too.

Every mutation of the in-memory index happens on the event loop's thread, between two awaits, so
a listing sees each file either entirely or not at all.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import os
import pathlib
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any, Final, TypeVar

import cattrs

from aikit_files import _serde

from ._disk import TempFile, fsync_dir, unlink_quietly
from ._ids import FILE_ID, file_sequence, new_file_id
from ._quota import Quota
from ._records import Deadlines, FileRecord

log = logging.getLogger("aikit_files.server")
T = TypeVar("T")

#: What reading a metadata file that is not one of ours raises: not JSON, not UTF-8, nested too
#: deep, not an object, a field missing or of the wrong type.
CORRUPT: Final = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    RecursionError,
    cattrs.BaseValidationError,
)


class Store:
    """The files of one data directory: on disk, and indexed in memory in listing order."""

    def __init__(self, root: pathlib.Path, clock: Callable[[], float], max_storage: int):
        self.root = root
        self.clock = clock
        #: What the files, and the Parts of pending Uploads, hold against the storage limit.
        self.quota = Quota(max_storage)
        self.files_dir = root / "files"
        self.uploads_dir = root / "uploads"
        self.tmp_dir = root / "tmp"
        self.quarantine_dir = root / "quarantine"
        self._records: dict[str, FileRecord] = {}
        self._by_upload: dict[str, str] = {}
        self._order: list[str] = []
        self._expiry = Deadlines()
        self._sequence = 0
        # Serialises metadata rewrites with deletions, so a deleted file is never rewritten.
        self._lock = asyncio.Lock()

    # --- startup -------------------------------------------------------------------------

    def open(self) -> list[FileRecord]:
        """Creates the layout, removes crash leftovers, loads the index (blocking I/O).

        Returns:
            The records whose processing was interrupted (outcome still unknown).
        """
        for directory in (self.files_dir, self.uploads_dir, self.tmp_dir):
            directory.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp_dir.iterdir():
            log.info("removing %s, left over by an interrupted write", leftover.name)
            unlink_quietly(leftover)
        names = {path.name for path in self.files_dir.iterdir()}
        for name in names:
            stem = name.removesuffix(".json")
            if not FILE_ID.fullmatch(stem) or (name == stem and f"{stem}.json" not in names):
                log.info("removing files/%s, not part of any file", name)
                unlink_quietly(self.files_dir / name)
                continue
            if name == stem:
                continue
            record = self.load(self.files_dir / name, FileRecord)
            if record is None or record.id != stem:
                self.quarantine(self.files_dir / name, self.files_dir / stem)
                continue
            if record.bytes is not None and stem not in names:
                log.warning("dropping %s: its content is missing", stem)
                unlink_quietly(self.files_dir / name)
                continue
            self._index(record)
        self._sequence = max((file_sequence(i) for i in self._order), default=-1) + 1
        return [record for record in self._records.values() if record.outcome is None]

    def load(self, path: pathlib.Path, cls: type[T]) -> T | None:
        """The record that the metadata file at ``path`` holds, or None (with a log line) when
        it holds none (blocking I/O)."""
        try:
            return _serde.structure(json.loads(path.read_bytes()), cls)
        except CORRUPT as error:
            log.warning("%s is corrupt (%s)", path.relative_to(self.root), error)
            return None

    def quarantine(self, *paths: pathlib.Path) -> None:
        """Moves the files or directories at ``paths`` that exist into ``quarantine/``, out of
        the server's sight but kept for whoever wants to look (blocking I/O)."""
        self.quarantine_dir.mkdir(exist_ok=True)
        for path in paths:
            if not path.exists():
                continue
            target = self.quarantine_dir / path.name
            if target.exists():
                target = target.with_name(f"{path.name}.{secrets.token_hex(4)}")
            os.replace(path, target)
            log.warning(
                "moved %s to %s", path.relative_to(self.root), target.relative_to(self.root)
            )

    # --- writing -------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def receive(self) -> AsyncIterator[TempFile]:
        """A new temporary file, removed on exit unless it was moved into place meanwhile."""
        path = self.tmp_dir / f"{secrets.token_hex(16)}.part"
        # NOTE: opened on the loop's thread (one quick system call): a worker thread's open
        # outlives a cancelled await, and its file would be left open and on disk.
        handle = open(path, "xb")  # noqa: ASYNC230, SIM115
        temp = TempFile(path, handle)
        try:
            yield temp
        finally:
            # NOTE: once moved into place the path no longer exists: nothing to discard.
            if not temp.placed:
                await asyncio.to_thread(temp.discard)

    def new_record_id(self, created_at: int) -> str:
        """A new file id, after every id handed out so far at the same ``created_at``."""
        file_id = new_file_id(created_at, self._sequence)
        self._sequence += 1
        return file_id

    async def add(
        self, record: FileRecord, content: TempFile | None, *, replacing_parts: int = 0
    ) -> None:
        """Makes a new file durable and visible; ``content`` is finished (``TempFile.finish``)
        if it was not yet, and moved into place.

        Args:
            record: The new file.
            content: Its bytes (None for an import, whose bytes come later).
            replacing_parts: Bytes of the Parts the file is made of, which its room may take.

        Raises:
            StorageFull: the file would take what is stored past the storage limit.
        """
        with self.quota.committing(record.bytes or 0, replacing=replacing_parts):
            await asyncio.to_thread(self._commit, record, content)
        self._index(record)

    async def update(self, record: FileRecord, content: TempFile | None = None) -> bool:
        """Replaces a file's metadata, and its content if given; False if it was deleted since.

        Raises:
            StorageFull: new content would take the files stored past the storage limit.
        """
        async with self._lock:
            old = self._records.get(record.id)
            if old is None:
                return False
            growth = (record.bytes or 0) - (old.bytes or 0)
            with self.quota.committing(max(growth, 0)):
                await asyncio.to_thread(self._commit, record, content)
            self._records[record.id] = record
            self.quota.files_changed(growth)
            return True

    def _commit(self, record: FileRecord, content: TempFile | None) -> None:
        if content is not None:
            content.finish_now()
            os.replace(content.path, self.files_dir / record.id)
            content.placed = True
        self.write_json(self.files_dir / f"{record.id}.json", _serde.unstructure(record))

    def write_json(self, path: pathlib.Path, data: Any) -> None:
        """Atomically replaces ``path`` with ``data`` as JSON (blocking I/O)."""
        temp = self.tmp_dir / f"{secrets.token_hex(16)}.json"
        try:
            with open(temp, "xb") as handle:
                handle.write(json.dumps(data).encode())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            unlink_quietly(temp)
            raise
        fsync_dir(path.parent)

    async def delete(self, file_id: str) -> bool:
        """Removes a file; False if there was none."""
        async with self._lock:
            if self._unindex(file_id) is None:
                return False
            await asyncio.to_thread(self._remove, file_id)
            return True

    def _remove(self, file_id: str) -> None:
        # Metadata first: once it is gone the file no longer exists, whatever happens next.
        unlink_quietly(self.files_dir / f"{file_id}.json")
        fsync_dir(self.files_dir)
        unlink_quietly(self.files_dir / file_id)

    async def purge_expired(self) -> None:
        """Removes the files whose ``expires_at`` has passed."""
        for file_id in self._expiry.due(self.clock()):
            await self.delete(file_id)

    # --- reading -------------------------------------------------------------------------

    def get(self, file_id: str) -> FileRecord | None:
        """The file's record, or None if there is none (or it has expired)."""
        record = self._records.get(file_id)
        if record is None or self._expired(record):
            return None
        return record

    def made_by_upload(self, upload_id: str) -> FileRecord | None:
        """The file that completing the Upload ``upload_id`` made, if it still exists."""
        file_id = self._by_upload.get(upload_id)
        return None if file_id is None else self.get(file_id)

    def content_path(self, file_id: str) -> pathlib.Path:
        """Where a file's content lives; ``file_id`` must match ``FILE_ID``."""
        return self.files_dir / file_id

    def page(
        self, *, purpose: str | None, limit: int, order: str, after: str | None
    ) -> tuple[list[FileRecord], bool]:
        """One page of the listing, and whether more files follow it.

        ``after`` is a position in the order: the page starts right after it, whether or not
        a file with that id still exists.
        """
        if order == "asc":
            start = bisect.bisect_right(self._order, after) if after else 0
            positions = range(start, len(self._order))
        else:
            stop = bisect.bisect_left(self._order, after) if after else len(self._order)
            positions = range(stop - 1, -1, -1)
        found: list[FileRecord] = []
        for position in positions:
            record = self._records[self._order[position]]
            if self._expired(record) or (purpose is not None and record.purpose != purpose):
                continue
            if len(found) == limit:
                return found, True
            found.append(record)
        return found, False

    # --- index ---------------------------------------------------------------------------

    def _expired(self, record: FileRecord) -> bool:
        return record.expires_at is not None and record.expires_at <= self.clock()

    def _index(self, record: FileRecord) -> None:
        self._records[record.id] = record
        self.quota.files_changed(record.bytes or 0)
        bisect.insort(self._order, record.id)
        if record.upload_id is not None:
            self._by_upload[record.upload_id] = record.id
        if record.expires_at is not None:
            self._expiry.add(record.expires_at, record.id)

    def _unindex(self, file_id: str) -> FileRecord | None:
        record = self._records.pop(file_id, None)
        if record is not None:
            self.quota.files_changed(-(record.bytes or 0))
            del self._order[bisect.bisect_left(self._order, file_id)]
            if record.upload_id is not None:
                self._by_upload.pop(record.upload_id, None)
        return record
