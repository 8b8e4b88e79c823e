"""The files service over the ``Store``: create, import, retrieve, list, delete, content.

A new file is ``processed`` at once (OpenAI), or goes through Azure's lifecycle, its content
checked in the background by the ``Processor``.
"""

from __future__ import annotations

import pathlib

import yarl

from aikit_files._models import FileDeleted, FileList, OpenAIFile

from ._disk import TempFile
from ._errors import ApiError, not_found
from ._ids import FILE_ID
from ._processing import Processor
from ._records import FileRecord
from ._rules import Settings, expires_at
from ._storage import Store


class Files:
    """The files of one data directory, as the routes see them.

    Args:
        store: Where the files are kept.
        settings: The server's settings (its clock, the processing delay).
        processor: What processes the files made with the lifecycle.
    """

    def __init__(self, store: Store, settings: Settings, processor: Processor):
        self._store = store
        self._settings = settings
        self._processor = processor

    async def create(
        self,
        *,
        filename: str,
        purpose: str,
        content: TempFile | None,
        expires_after: int | None,
        lifecycle: bool,
        upload_id: str | None = None,
        replacing_parts: int = 0,
    ) -> FileRecord:
        """Makes a new file durable and visible.

        Args:
            filename: The file's name, already checked against its purpose.
            purpose: Its purpose, already checked.
            content: Its bytes, received but not finished (this finishes them); None for an
                import, whose bytes come later.
            expires_after: Seconds it lives after its creation; None for its purpose's default.
            lifecycle: Whether it goes ``pending`` → ``running`` → ``processed`` or ``error``
                while its content is checked in the background (Azure), rather than being
                ``processed`` at once (OpenAI).
            upload_id: The Upload whose completion makes the file, if one does.
            replacing_parts: The bytes that Upload's Parts hold: the file may take their room.

        Returns:
            The new file's record.
        """
        now = self._settings.clock()
        created_at = int(now)
        record = FileRecord(
            id=self._store.new_record_id(created_at),
            filename=filename,
            purpose=purpose,
            created_at=created_at,
            bytes=None if content is None else content.size,
            expires_at=expires_at(created_at, purpose, expires_after),
            outcome=None if lifecycle else "processed",
            accepted_at=now,
            processing_delay=self._settings.processing_delay if lifecycle else 0.0,
            upload_id=upload_id,
        )
        await self._store.add(record, content, replacing_parts=replacing_parts)
        # An import is processed once its content is fetched (see start_import).
        if lifecycle and content is not None:
            self._processor.process(record)
        return record

    async def start_import(self, url: yarl.URL, *, filename: str, purpose: str) -> FileRecord:
        """Makes a new file whose content is fetched from ``url`` in the background, then
        checked (Azure's lifecycle); it stays ``pending`` meanwhile.

        Args:
            url: Where its content is.
            filename: Its name, already checked against its purpose.
            purpose: Its purpose, already checked.

        Returns:
            The new file's record.
        """
        record = await self.create(
            filename=filename, purpose=purpose, content=None, expires_after=None, lifecycle=True
        )
        self._processor.start_import(record, url)
        return record

    def file(self, record: FileRecord) -> OpenAIFile:
        """The File object of ``record``, as it is now."""
        return record.file(self._settings.clock())

    def _record(self, file_id: str) -> FileRecord:
        # NOTE: a malformed id names no file, and never becomes a path.
        record = self._store.get(file_id) if FILE_ID.fullmatch(file_id) else None
        if record is None:
            raise not_found("File", file_id, "file_id")
        return record

    def retrieve(self, file_id: str) -> OpenAIFile:
        """The File object of ``file_id``.

        Raises:
            ApiError: 404 when there is no such file.
        """
        return self.file(self._record(file_id))

    def content(self, file_id: str) -> pathlib.Path:
        """Where the content of ``file_id`` is.

        Raises:
            ApiError: 404 when there is no such file, or its import has not fetched it yet.
        """
        record = self._record(file_id)
        if record.bytes is None:
            raise ApiError(
                404,
                f"File {record.id} has no content yet: it is still being imported.",
                param="file_id",
            )
        return self._store.content_path(record.id)

    async def delete(self, file_id: str) -> FileDeleted:
        """Removes the file ``file_id``.

        Raises:
            ApiError: 404 when there is no such file.
        """
        if not FILE_ID.fullmatch(file_id) or not await self._store.delete(file_id):
            raise not_found("File", file_id, "file_id")
        return FileDeleted(id=file_id, deleted=True)

    def list(self, *, purpose: str | None, limit: int, order: str, after: str | None) -> FileList:
        """One page of the files, newest first (``desc``) or oldest first (``asc``).

        Args:
            purpose: Only files of this purpose, if given.
            limit: The largest number of files on the page, already checked.
            order: ``asc`` or ``desc``, already checked.
            after: The file id the page starts after (whether or not that file still exists);
                one not of this server's pattern names no position: the page is empty.
        """
        records: list[FileRecord] = []
        has_more = False
        if after is None or FILE_ID.fullmatch(after):
            records, has_more = self._store.page(
                purpose=purpose, limit=limit, order=order, after=after
            )
        now = self._settings.clock()
        return FileList(
            data=[record.file(now) for record in records],
            first_id=records[0].id if records else None,
            last_id=records[-1].id if records else None,
            has_more=has_more,
        )
