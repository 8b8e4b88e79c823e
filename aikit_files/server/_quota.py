"""The storage limit (``max_storage``): what the files stored, the files being committed and
the Parts of pending Uploads hold on disk, against one total.

NOTE: a Part counts from the moment it is kept until its Upload is completed (its bytes then
count as the file's), cancelled or expired: eight pending Uploads can never hold more than the
limit between them. Checking and counting happen without an await between, so that requests
side by side never pass the limit together.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ._errors import StorageFull


class Quota:
    """The bytes held against the storage limit.

    Args:
        limit: The most bytes that files and pending Parts may hold together.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self._files = 0
        self._committing = 0
        self._parts = 0

    def room(self) -> int:
        """How many bytes more may be held before the limit."""
        return self.limit - self._files - self._committing - self._parts

    def refusal(self) -> StorageFull:
        """The refusal of what would pass the limit."""
        return StorageFull(self.limit)

    @contextlib.contextmanager
    def committing(self, size: int, *, replacing: int = 0) -> Iterator[None]:
        """Holds room for a file of ``size`` bytes being committed, during the block.

        Args:
            size: The file's bytes (its growth, for a file whose content is replaced).
            replacing: Bytes of Parts the file is made of, released once it is made: their
                room is the file's.

        Raises:
            StorageFull: there is no room for it.
        """
        if size > self.room() + replacing:
            raise self.refusal()
        self._committing += size
        try:
            yield
        finally:
            self._committing -= size

    def files_changed(self, delta: int) -> None:
        """Counts files stored (``delta`` > 0) or removed (< 0), of that many bytes."""
        self._files += delta

    def hold_part(self, size: int) -> None:
        """Counts a Part kept for a pending Upload.

        Raises:
            StorageFull: it would pass the limit.
        """
        if size > self.room():
            raise self.refusal()
        self._parts += size

    def parts_found(self, size: int) -> None:
        """Counts Parts found on disk at startup (held already, whatever the limit now)."""
        self._parts += size

    def release_parts(self, size: int) -> None:
        """Stops counting Parts removed (their Upload completed, cancelled or expired)."""
        self._parts -= size
