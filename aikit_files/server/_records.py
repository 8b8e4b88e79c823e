"""What the store keeps about a file (``FileRecord``), and ids by the time they fall due."""

from __future__ import annotations

import heapq

import attrs

from aikit_files._models import OpenAIFile


@attrs.frozen
class FileRecord:
    """What the store keeps about a file; ``file(now)`` is what clients see."""

    id: str
    filename: str
    purpose: str
    created_at: int
    bytes: int | None
    """None while an import has not fetched the content yet."""
    expires_at: int | None = None
    outcome: str | None = "processed"
    """``processed`` or ``error`` once processing is over; None while it runs."""
    status_details: str | None = None
    accepted_at: float = 0.0
    """The clock's time when the file was accepted, to the sub-second."""
    processing_delay: float = 0.0
    """How long the file stays ``pending`` then ``running`` before its outcome shows."""
    upload_id: str | None = None
    """The Upload whose completion made the file (not part of the File object): a completion
    interrupted by a crash is recognised by it at the next start."""

    def status(self, now: float) -> str:
        """The status at ``now``: ``pending`` for the first half of the processing delay,
        ``running`` for the second half (and as long as the outcome is unknown), then the
        outcome."""
        elapsed = now - self.accepted_at
        if self.outcome is not None and elapsed >= self.processing_delay:
            return self.outcome
        return "pending" if elapsed < self.processing_delay / 2 else "running"

    def file(self, now: float) -> OpenAIFile:
        """The File object as of ``now``."""
        status = self.status(now)
        return OpenAIFile(
            id=self.id,
            bytes=self.bytes,
            created_at=self.created_at,
            filename=self.filename,
            purpose=self.purpose,
            status=status,
            status_details=self.status_details if status == "error" else None,
            expires_at=self.expires_at,
        )


class Deadlines:
    """Ids by the time they fall due (expiry), earliest first."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []

    def add(self, when: float, key: str) -> None:
        """Schedules ``key`` for ``when``."""
        heapq.heappush(self._heap, (when, key))

    def due(self, now: float) -> list[str]:
        """Removes and returns the keys due at ``now``."""
        keys = []
        while self._heap and self._heap[0][0] <= now:
            keys.append(heapq.heappop(self._heap)[1])
        return keys
