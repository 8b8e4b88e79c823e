"""The Uploads API: Uploads on disk, their Parts, and the handlers that create, fill, complete
and cancel them.

An Upload lives in ``uploads/<upload id>/``: ``upload.json`` and one file per Part, named by the
Part's id (which carries its ``created_at``). Completing it copies the Parts, in the order
given, into a new file block by block, never holding a Part in memory.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import pathlib
import shutil
from typing import Final

import attrs
from aiohttp import web

from aikit_files import _serde
from aikit_files._models import OpenAIFile, Upload, UploadPart

from ._errors import bad_request, not_found, too_large
from ._flavours import AZURE
from ._http import (
    FLAVOUR,
    STATE,
    add_file,
    check_declared_size,
    json_response,
    location,
    new_record,
    read_json,
    receive_part,
    start_body,
)
from ._ids import PART_ID, UPLOAD_ID, new_part_id, new_upload_id, part_created_at
from ._multipart import FormReader
from ._rules import Settings, check_file, check_purpose, expires_after_seconds
from ._storage import Deadlines, Store, TempFile, fsync_dir, unlink_all, unlink_quietly

log = logging.getLogger("aikit_files.server")

_CREATE_FIELDS: Final = frozenset({"bytes", "filename", "mime_type", "purpose", "expires_after"})
_COMPLETE_FIELDS: Final = frozenset({"part_ids", "md5"})


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
    """The Uploads of one data directory."""

    def __init__(self, store: Store, settings: Settings):
        self._store = store
        self._settings = settings
        self._uploads: dict[str, OpenUpload] = {}
        self._expiry = Deadlines()

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
            record = _serde.structure(json.loads(meta.read_bytes()), UploadRecord)
            upload = OpenUpload(record)
            for path in directory.iterdir():
                if record.status == "pending" and PART_ID.fullmatch(path.name):
                    upload.parts[path.name] = path.stat().st_size
                elif path != meta:
                    unlink_quietly(path)
            self._index(upload)

    def _index(self, upload: OpenUpload) -> None:
        self._uploads[upload.record.id] = upload
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
        """Marks the pending Uploads whose time is up as ``expired`` and drops their Parts."""
        for upload_id in self._expiry.due(self._settings.clock()):
            upload = self._uploads[upload_id]
            async with upload.lock:
                if upload.record.status == "pending":
                    await self._finish(upload, attrs.evolve(upload.record, status="expired"))

    async def _save(self, record: UploadRecord) -> None:
        await asyncio.to_thread(
            self._store.write_json, self._dir(record.id) / "upload.json", _serde.unstructure(record)
        )

    async def _finish(self, upload: OpenUpload, record: UploadRecord) -> None:
        """Moves a pending Upload to its final status, then removes its Parts."""
        await self._save(record)
        upload.record = record
        parts = [self._dir(record.id) / part_id for part_id in upload.parts]
        upload.parts.clear()
        await asyncio.to_thread(unlink_all, parts)

    def check_pending(self, upload: OpenUpload) -> None:
        """Raises a 400 ``ApiError`` unless the Upload still takes Parts."""
        status = upload.record.status
        if status != "pending":
            raise bad_request(f"Upload {upload.record.id} is {status}: it no longer changes.")

    async def create(self, record: UploadRecord) -> None:
        """Makes a new Upload durable and known."""

        def make() -> None:
            self._dir(record.id).mkdir()
            self._store.write_json(self._dir(record.id) / "upload.json", _serde.unstructure(record))
            fsync_dir(self._store.uploads_dir)

        await asyncio.to_thread(make)
        self._index(OpenUpload(record))

    async def add_part(self, upload: OpenUpload, content: TempFile, created_at: int) -> str:
        """Moves a received Part (finished) into its Upload; returns the Part's id.

        Raises:
            ApiError: 400 when the Upload stopped taking Parts meanwhile; 413 when the Parts
                would pass the Upload limit.
        """
        async with upload.lock:
            self.check_pending(upload)
            limit = self._settings.upload_limit
            if sum(upload.parts.values()) + content.size > limit:
                raise too_large("The Parts of this Upload", limit)
            part_id = new_part_id(created_at)
            directory = self._dir(upload.record.id)

            def move() -> None:
                content.path.replace(directory / part_id)
                fsync_dir(directory)

            await asyncio.to_thread(move)
            upload.parts[part_id] = content.size
            return part_id

    async def assemble(
        self, upload: OpenUpload, raw_ids: list[object], content: TempFile, md5: str | None
    ) -> None:
        """Copies the Parts named by ``raw_ids``, in order, into ``content`` (then finished).

        The caller holds the Upload's lock.

        Raises:
            ApiError: 400 when the Upload is not pending, a Part is unknown or listed twice, or
                the Parts' size or MD5 differ from what was announced.
        """
        self.check_pending(upload)
        record = upload.record
        part_ids: dict[str, None] = {}  # ordered, and quick to search
        for raw in raw_ids:
            part_id = part_id_of(raw)
            if part_id is None or part_id not in upload.parts:
                raise bad_request(f"Upload {record.id} has no Part {raw!r}.", "part_ids")
            if part_id in part_ids:
                raise bad_request(f"The Part {raw!r} is listed twice.", "part_ids")
            part_ids[part_id] = None
        total = sum(upload.parts[part_id] for part_id in part_ids)
        if total != record.bytes:
            raise bad_request(
                f"The Parts hold {total} bytes, but the Upload was created with "
                f"{record.bytes} bytes.",
                "part_ids",
            )
        digest = hashlib.md5(usedforsecurity=False) if md5 is not None else None
        await content.copy_from([self._dir(record.id) / part_id for part_id in part_ids], digest)
        if digest is not None and md5 is not None and digest.hexdigest() != md5.lower():
            raise bad_request(
                f"The md5 checksum does not match the Parts (theirs is {digest.hexdigest()}).",
                "md5",
            )
        await content.finish()

    async def completed(self, upload: OpenUpload, file_id: str) -> None:
        """Records that the Upload made the file ``file_id``, and drops its Parts."""
        await self._finish(upload, attrs.evolve(upload.record, status="completed", file_id=file_id))

    async def cancel(self, upload: OpenUpload) -> None:
        """Cancels a pending Upload; cancelling twice is harmless."""
        if upload.record.status != "cancelled":
            self.check_pending(upload)
            await self._finish(upload, attrs.evolve(upload.record, status="cancelled"))


# --- handlers --------------------------------------------------------------------------------


def _upload_of(request: web.Request) -> OpenUpload:
    return request.app[STATE].uploads.get(request.match_info["upload_id"])


async def create_upload(request: web.Request) -> web.StreamResponse:
    """``POST /uploads``: ``bytes``, ``filename``, ``mime_type``, ``purpose``,
    ``expires_after``."""
    state = request.app[STATE]
    settings = state.settings
    body = await read_json(request, _CREATE_FIELDS)
    purpose = check_purpose(body.get("purpose"), request[FLAVOUR].purposes)
    for name in ("filename", "mime_type"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise bad_request(f"Missing required parameter: {name!r}.", name)
    size = body.get("bytes")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise bad_request("'bytes' must be a non-negative integer.", "bytes")
    limit = settings.batch_file_limit if purpose == "batch" else settings.upload_limit
    if size > limit:
        raise bad_request(f"'bytes' exceeds the maximum size of {limit} bytes.", "bytes")
    check_file(settings, purpose, body["filename"], None)
    expires_after = body.get("expires_after")
    if expires_after is not None and not isinstance(expires_after, dict):
        raise bad_request("'expires_after' must be an object.", "expires_after")
    policy = expires_after or {}
    now = int(settings.clock())
    record = UploadRecord(
        id=new_upload_id(),
        bytes=size,
        created_at=now,
        filename=body["filename"],
        purpose=purpose,
        mime_type=body["mime_type"],
        expires_at=now + settings.upload_expiry,
        file_expires_after=expires_after_seconds(policy.get("anchor"), policy.get("seconds")),
    )
    await state.uploads.create(record)
    response = json_response(record.upload())
    response.headers.update(location(request, f"uploads/{record.id}"))
    return response


async def add_upload_part(request: web.Request) -> web.StreamResponse:
    """``POST /uploads/{upload_id}/parts``: a multipart form with one field, ``data``."""
    state = request.app[STATE]
    settings = state.settings
    upload = _upload_of(request)
    state.uploads.check_pending(upload)
    check_declared_size(request, settings.part_limit)
    form = FormReader.of(request)
    await start_body(request)
    async with state.store.receive() as content:
        received = False
        while (part := await form.next_part()) is not None:
            if part.name != "data" or received:
                raise bad_request(
                    f"Unrecognized request argument supplied: {part.name}."
                    if part.name != "data"
                    else "The form field 'data' is given twice.",
                    part.name,
                )
            await receive_part(form, content, settings.part_limit)
            received = True
        if not received:
            raise bad_request("Missing required parameter: 'data'.", "data")
        await content.finish()
        created_at = int(settings.clock())
        part_id = await state.uploads.add_part(upload, content, created_at)
    extra = {"azure_block_id": block_id(part_id)} if request[FLAVOUR] is AZURE else None
    return json_response(
        UploadPart(id=part_id, upload_id=upload.record.id, created_at=part_created_at(part_id)),
        extra=extra,
    )


async def complete_upload(request: web.Request) -> web.StreamResponse:
    """``POST /uploads/{upload_id}/complete``: ``part_ids`` in order, and an optional ``md5``."""
    state = request.app[STATE]
    uploads = state.uploads
    upload = _upload_of(request)
    body = await read_json(request, _COMPLETE_FIELDS)
    raw_ids = body.get("part_ids")
    if not isinstance(raw_ids, list):
        raise bad_request(
            "Missing required parameter: 'part_ids' (a list of Part ids).", "part_ids"
        )
    md5 = body.get("md5")
    if md5 is not None and not isinstance(md5, str):
        raise bad_request("'md5' must be a string.", "md5")
    async with upload.lock, state.store.receive() as content:
        await uploads.assemble(upload, raw_ids, content, md5 or None)
        record = upload.record
        file_record = new_record(
            request, record.filename, record.purpose, record.bytes, record.file_expires_after
        )
        await add_file(request, file_record, content)
        await uploads.completed(upload, file_record.id)
    file = file_record.file(state.settings.clock())
    return json_response(upload.record.upload(file))


async def cancel_upload(request: web.Request) -> web.StreamResponse:
    """``POST /uploads/{upload_id}/cancel``."""
    upload = _upload_of(request)
    async with upload.lock:
        await request.app[STATE].uploads.cancel(upload)
    return json_response(upload.record.upload())
