"""The Uploads store: Uploads and their Parts on disk; create, add a Part, complete, cancel.

An Upload lives in ``uploads/<upload id>/``: ``upload.json`` and one file per Part, named by the
Part's id (which carries its ``created_at``). Completing it copies the Parts, in the order
given, into a new file block by block, never holding a Part in memory.

An Upload's record outlives its end (completed, cancelled, expired) so that a retried
``complete`` or ``cancel`` answers as the first did, and a late Part learns why it is refused;
``RECORD_RETENTION`` after its ``expires_at`` it is removed, whatever its status, and its id is
then unknown (404).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import pathlib
import shutil
from typing import Final

import attrs

from aikit_files import _serde
from aikit_files._models import OpenAIFile, Upload, UploadPart

from ._disk import TempFile, fsync_dir, unlink_all, unlink_quietly
from ._errors import ApiError, bad_request, not_found
from ._files import Files
from ._ids import PART_ID, UPLOAD_ID, new_part_id, new_upload_id
from ._records import Deadlines
from ._rules import Settings
from ._storage import Store

log = logging.getLogger("aikit_files.server")

#: Seconds an Upload's record is kept after its ``expires_at`` (the longest a client may still
#: be sending it Parts), before it is removed.
RECORD_RETENTION: Final = 3600


@attrs.frozen
class UploadRecord:
    """What the store keeps about an Upload."""

    id: str
    bytes: int
    created_at: int
    filename: str
    purpose: str
    mime_type: str
    expires_at: int
    status: str = "pending"
    file_expires_after: int | None = None
    """The ``expires_after.seconds`` of the File to create."""
    file_id: str | None = None
    """The File created by completing the Upload."""
    part_ids: tuple[str, ...] | None = None
    """The Parts, in order, of the last completion begun: saved before the file is made, so
    that a retried ``complete`` naming them finds the file already made."""

    def upload(self, file: OpenAIFile | None = None) -> Upload:
        """The Upload object, with the File created (when completed)."""
        return Upload(
            id=self.id,
            bytes=self.bytes,
            created_at=self.created_at,
            filename=self.filename,
            purpose=self.purpose,
            status=self.status,
            expires_at=self.expires_at,
            file=file,
        )


@attrs.define
class OpenUpload:
    """An Upload in memory: its record, its Parts' sizes, and a lock over its changes."""

    record: UploadRecord
    parts: dict[str, int] = attrs.Factory(dict)
    lock: asyncio.Lock = attrs.Factory(asyncio.Lock)


def block_id(part_id: str) -> str:
    """Azure's ``azure_block_id`` of a Part: its id's random bytes, in base64."""
    return base64.b64encode(bytes.fromhex(part_id.removeprefix("part_"))).decode()


def part_id_of(value: object) -> str | None:
    """The Part id that ``value`` names, as a Part id or as an Azure block id."""
    if not isinstance(value, str):
        return None
    if PART_ID.fullmatch(value):
        return value
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return f"part_{raw.hex()}" if len(raw) == 16 else None


class Uploads:
    """The Uploads of one data directory.

    Args:
        store: Where Uploads, their Parts and the files they make are kept.
        settings: The server's settings (its clock).
        files: What makes the file of a completed Upload.
    """

    def __init__(self, store: Store, settings: Settings, files: Files):
        self._store = store
        self._settings = settings
        self._files = files
        self._uploads: dict[str, OpenUpload] = {}
        self._expiry = Deadlines()
        self._removal = Deadlines()

    def _dir(self, upload_id: str) -> pathlib.Path:
        return self._store.uploads_dir / upload_id

    def open(self) -> None:
        """Loads the Uploads, removing what a crash left half-done (blocking I/O)."""
        for directory in self._store.uploads_dir.iterdir():
            meta = directory / "upload.json"
            if not UPLOAD_ID.fullmatch(directory.name) or not meta.is_file():
                log.info("removing uploads/%s, not part of any Upload", directory.name)
                shutil.rmtree(directory, ignore_errors=True)
                continue
            record = self._store.load(meta, UploadRecord)
            if record is None or record.id != directory.name:
                self._store.quarantine(directory)
                continue
            made = self._store.made_by_upload(record.id)
            if record.status == "pending" and made is not None:
                # A crash came between making the file and marking the Upload completed.
                log.info("completing %s: its file %s was made before a restart", record.id, made.id)
                record = attrs.evolve(record, status="completed", file_id=made.id)
                self._store.write_json(meta, _serde.unstructure(record))
            upload = OpenUpload(record)
            for path in directory.iterdir():
                if record.status == "pending" and PART_ID.fullmatch(path.name):
                    upload.parts[path.name] = size = path.stat().st_size
                    self._store.quota.parts_found(size)
                elif path != meta:
                    unlink_quietly(path)
            self._index(upload)

    def _index(self, upload: OpenUpload) -> None:
        self._uploads[upload.record.id] = upload
        self._removal.add(upload.record.expires_at + RECORD_RETENTION, upload.record.id)
        if upload.record.status == "pending":
            self._expiry.add(upload.record.expires_at, upload.record.id)

    def get(self, upload_id: str) -> OpenUpload:
        """The Upload with this id.

        Raises:
            ApiError: 404 when there is none (or the id is malformed).
        """
        upload = self._uploads.get(upload_id) if UPLOAD_ID.fullmatch(upload_id) else None
        if upload is None:
            raise not_found("Upload", upload_id, "upload_id")
        return upload

    async def purge_expired(self) -> None:
        """Marks the pending Uploads whose time is up as ``expired`` and drops their Parts;
        removes the records kept ``RECORD_RETENTION`` past their time."""
        now = self._settings.clock()
        for upload_id in self._expiry.due(now):
            upload = self._uploads[upload_id]
            if upload.lock.locked():
                # NOTE: never wait behind a Part or a completion in progress, which may take
                # long: every request would wait too. Expire it once that is over (unless
                # it completed the Upload).
                self._expiry.add(upload.record.expires_at, upload_id)
                continue
            async with upload.lock:
                if upload.record.status == "pending":
                    await self._finish(upload, attrs.evolve(upload.record, status="expired"))
        for upload_id in self._removal.due(now):
            upload = self._uploads[upload_id]
            if upload.lock.locked() or upload.record.status == "pending":
                self._removal.add(upload.record.expires_at + RECORD_RETENTION, upload_id)
                continue
            # Unknown first, then gone from disk: a crash in between finds it again at the
            # next start, already due.
            del self._uploads[upload_id]
            await asyncio.to_thread(shutil.rmtree, self._dir(upload_id), ignore_errors=True)

    async def _save(self, record: UploadRecord) -> None:
        await asyncio.to_thread(
            self._store.write_json, self._dir(record.id) / "upload.json", _serde.unstructure(record)
        )

    async def _finish(self, upload: OpenUpload, record: UploadRecord) -> None:
        """Moves a pending Upload to its final status, then removes its Parts."""
        await self._save(record)
        upload.record = record
        parts = [self._dir(record.id) / part_id for part_id in upload.parts]
        self._store.quota.release_parts(sum(upload.parts.values()))
        upload.parts.clear()
        await asyncio.to_thread(unlink_all, parts)

    def check_pending(self, upload: OpenUpload) -> None:
        """Raises a 400 ``ApiError`` unless the Upload still takes Parts."""
        status = upload.record.status
        if status != "pending":
            raise bad_request(f"Upload {upload.record.id} is {status}: it no longer changes.")

    async def create(
        self,
        *,
        filename: str,
        purpose: str,
        mime_type: str,
        size: int,
        expiry: int,
        file_expires_after: int | None,
    ) -> Upload:
        """Makes a new Upload durable and known; it takes Parts until it expires.

        Args:
            filename: The name of the file to make, already checked against its purpose.
            purpose: Its purpose, already checked.
            mime_type: Its MIME type.
            size: Its size in bytes, already checked: the Parts must add up to it.
            expiry: Seconds it stays open (its flavour's).
            file_expires_after: Seconds the file lives after its creation; None for its
                purpose's default.

        Returns:
            The new Upload.
        """
        now = int(self._settings.clock())
        record = UploadRecord(
            id=new_upload_id(),
            bytes=size,
            created_at=now,
            filename=filename,
            purpose=purpose,
            mime_type=mime_type,
            expires_at=now + expiry,
            file_expires_after=file_expires_after,
        )

        def make() -> None:
            self._dir(record.id).mkdir()
            self._store.write_json(self._dir(record.id) / "upload.json", _serde.unstructure(record))
            fsync_dir(self._store.uploads_dir)

        await asyncio.to_thread(make)
        self._index(OpenUpload(record))
        return record.upload()

    async def add_part(self, upload: OpenUpload, content: TempFile) -> UploadPart:
        """Adds a Part to the Upload.

        Args:
            upload: The Upload.
            content: The Part's bytes, received but not finished (this finishes them).

        Returns:
            The new Part.

        Raises:
            ApiError: 400 when the Upload stopped taking Parts meanwhile, or when the Parts
                would hold more than the Upload's ``bytes``, or take what files and Parts
                hold past the storage limit.
        """
        await content.finish()
        created_at = int(self._settings.clock())
        async with upload.lock:
            self.check_pending(upload)
            if content.size > self.room(upload):
                raise self.past_declared_size(upload)
            part_id = new_part_id(created_at)
            directory = self._dir(upload.record.id)

            def move() -> None:
                content.path.replace(directory / part_id)
                content.placed = True
                fsync_dir(directory)

            # NOTE: counted before the move (no await in between), released if it fails.
            self._store.quota.hold_part(content.size)
            try:
                await asyncio.to_thread(move)
            except BaseException:
                self._store.quota.release_parts(content.size)
                raise
            upload.parts[part_id] = content.size
        return UploadPart(id=part_id, upload_id=upload.record.id, created_at=created_at)

    def room(self, upload: OpenUpload) -> int:
        """How many bytes the Upload's Parts may still add, by the ``bytes`` it announced.

        NOTE: the Parts may hold up to twice the announced bytes in all: a client whose answer
        to a Part was lost sends it again, and the Part the server kept is then one that
        ``complete`` will not name. Past that, the Parts are only filling the disk. A single
        Part is never larger than the announced bytes.
        """
        held = sum(upload.parts.values())
        return min(upload.record.bytes, 2 * upload.record.bytes - held)

    def past_declared_size(self, upload: OpenUpload) -> ApiError:
        """The refusal of a Part that would take the Upload past the ``bytes`` it announced."""
        record = upload.record
        return bad_request(
            f"The Part would take Upload {record.id} past what its {record.bytes} bytes allow "
            f"(Parts sent again included: {max(self.room(upload), 0)} bytes are left).",
            "data",
        )

    async def complete(
        self, upload: OpenUpload, part_ids: list[object], md5: str | None, *, lifecycle: bool
    ) -> Upload:
        """Makes the Upload's file from the Parts named by ``part_ids``, in that order.

        Args:
            upload: The Upload.
            part_ids: Part ids, or Azure block ids, as the client sent them.
            md5: The hex MD5 the file must have, if the client gave one.
            lifecycle: Whether the new file goes through Azure's lifecycle (see
                ``Files.create``).

        Returns:
            The completed Upload, with its file.

        A ``complete`` retried on the Upload it completed, with the same Parts, answers as the
        first did and makes no other file, even when a crash came between the two.

        Raises:
            ApiError: 400 when the Upload is not pending, a Part is unknown or listed twice,
                the Parts' size or MD5 differ from what was announced, or the file would take
                the files stored past the storage limit.
        """
        async with upload.lock:
            named = tuple(part_id_of(raw) or "" for raw in part_ids)
            if upload.record.status == "completed" and named == upload.record.part_ids:
                file_id = upload.record.file_id
                made = None if file_id is None else self._store.get(file_id)
                return upload.record.upload(None if made is None else self._files.file(made))
            self.check_pending(upload)
            self._check_parts(upload, part_ids, named)
            # The completion's Parts are durable before its file exists (see ``open``).
            record = attrs.evolve(upload.record, part_ids=named)
            await self._save(record)
            upload.record = record
            async with self._store.receive() as content:
                await self._assemble(upload, content, md5)
                file_record = await self._files.create(
                    filename=record.filename,
                    purpose=record.purpose,
                    content=content,
                    expires_after=record.file_expires_after,
                    lifecycle=lifecycle,
                    upload_id=record.id,
                    replacing_parts=sum(upload.parts.values()),
                )
            await self._finish(
                upload, attrs.evolve(record, status="completed", file_id=file_record.id)
            )
        return upload.record.upload(self._files.file(file_record))

    def _check_parts(
        self, upload: OpenUpload, raw_ids: list[object], named: tuple[str, ...]
    ) -> None:
        """Checks that ``raw_ids`` (decoded: ``named``, "" for a malformed one) name each of
        the Upload's Parts at most once, and that those hold the Upload's ``bytes``."""
        record = upload.record
        part_ids: set[str] = set()
        for raw, part_id in zip(raw_ids, named, strict=True):
            if part_id not in upload.parts:
                raise bad_request(f"Upload {record.id} has no Part {raw!r}.", "part_ids")
            if part_id in part_ids:
                raise bad_request(f"The Part {raw!r} is listed twice.", "part_ids")
            part_ids.add(part_id)
        total = sum(upload.parts[part_id] for part_id in part_ids)
        if total != record.bytes:
            raise bad_request(
                f"The Parts hold {total} bytes, but the Upload was created with "
                f"{record.bytes} bytes.",
                "part_ids",
            )

    async def _assemble(self, upload: OpenUpload, content: TempFile, md5: str | None) -> None:
        """Copies the Parts of the completion (checked), in order, into ``content``; the caller
        holds the Upload's lock."""
        record = upload.record
        assert record.part_ids is not None
        digest = hashlib.md5(usedforsecurity=False) if md5 is not None else None
        await content.copy_from(
            [self._dir(record.id) / part_id for part_id in record.part_ids], digest
        )
        if digest is not None and md5 is not None and digest.hexdigest() != md5.lower():
            raise bad_request(
                f"The md5 checksum does not match the Parts (theirs is {digest.hexdigest()}).",
                "md5",
            )

    async def cancel(self, upload: OpenUpload) -> Upload:
        """Cancels a pending Upload; cancelling twice is harmless.

        Returns:
            The cancelled Upload.

        Raises:
            ApiError: 400 when the Upload is completed or expired.
        """
        async with upload.lock:
            if upload.record.status != "cancelled":
                self.check_pending(upload)
                await self._finish(upload, attrs.evolve(upload.record, status="cancelled"))
        return upload.record.upload()
