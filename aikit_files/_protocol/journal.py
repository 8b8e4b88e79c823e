"""The journal of a resumable upload, pure: its model, and whether a journal read from disk can
still be used.

A journal is either usable or discarded with one reason (``read_journal``): anything in it
that does not fit the run that reads it (the source, the plan, the clock, or its own sense)
means the upload starts over. The disk side (atomic writes, the lock) is ``_io.journal``.
"""

from __future__ import annotations

import json
from typing import Final

import attrs

from aikit_files import _serde
from aikit_files._exceptions import InvalidArgumentError
from aikit_files._limits import AZURE_UPLOAD_EXPIRY_SECONDS, UPLOAD_EXPIRY_SECONDS

from .plan import UploadPlan
from .requests import check_object_id

#: A journal whose Upload expires sooner than this is of no use: the upload starts over.
EXPIRY_MARGIN: Final = 300
#: The longest an Upload stays open, on any provider: a journal that says longer is wrong.
LONGEST_UPLOAD_LIFE: Final = max(UPLOAD_EXPIRY_SECONDS, AZURE_UPLOAD_EXPIRY_SECONDS)
#: Seconds the server's clock may run ahead of ours when it dates an Upload.
CLOCK_AHEAD: Final = 600


@attrs.frozen
class DonePart:
    """A Part the server has: its place in the file and its id."""

    number: int
    id: str


@attrs.frozen
class Journal:
    """What a resumable upload has done so far."""

    upload_id: str
    """The Upload the Parts go to."""
    created_at: int
    """When the Upload was created (server time)."""
    expires_at: int
    """When the Upload expires (server time): past it, the journal is of no use."""
    size: int
    """The source's size when the upload began."""
    mtime_ns: int
    """The source's modification time when the upload began."""
    part_size: int
    """The Parts' size: a run with another size starts over."""
    parts: tuple[DonePart, ...] = ()
    """The Parts the server acknowledged."""

    def with_part(self, part: DonePart) -> Journal:
        """The journal with one more Part done."""
        return attrs.evolve(self, parts=(*self.parts, part))

    def done(self) -> frozenset[int]:
        """The numbers of the Parts done."""
        return frozenset(part.number for part in self.parts)

    def part_ids(self) -> list[str]:
        """The ids of the Parts done, in the file's order: what ``complete`` names."""
        return [part.id for part in sorted(self.parts, key=lambda part: part.number)]

    def to_json(self) -> bytes:
        """The journal as it is written to disk."""
        return json.dumps(_serde.unstructure(self)).encode()


@attrs.frozen
class Discarded:
    """A journal that cannot be used, and why (the one line the log gets)."""

    reason: str
    upload_id: str | None = None
    """The journal's Upload, to cancel, when the journal names one that can be trusted."""


def read_journal(raw: bytes, plan: UploadPlan, mtime_ns: int, now: float) -> Journal | Discarded:
    """The journal in ``raw``, if it can be used to resume the upload ``plan`` describes.

    Args:
        raw: the journal file's bytes.
        plan: the plan of this run (its size and Part size must be the journal's).
        mtime_ns: the source's modification time now.
        now: the time now (``time.time()``).

    Returns:
        The journal, or why it was discarded.
    """
    try:
        journal = _serde.structure(json.loads(raw), Journal)
    except Exception as exc:  # not JSON, not a journal's shape: the message says which
        return Discarded(f"it is not a journal ({type(exc).__name__})")
    try:
        check_object_id(journal.upload_id, "the upload id")
    except InvalidArgumentError as exc:
        return Discarded(str(exc))
    upload_id = journal.upload_id
    reason = _misfit(journal, plan, mtime_ns, now)
    return journal if reason is None else Discarded(reason, upload_id)


def _misfit(journal: Journal, plan: UploadPlan, mtime_ns: int, now: float) -> str | None:
    """Why ``journal`` (well formed) does not fit this run; None when it does."""
    if (journal.size, journal.mtime_ns) != (plan.size, mtime_ns):
        return "the source changed since (its size or modification time)"
    if journal.part_size != plan.part_size:
        return f"its Parts are of {journal.part_size} bytes, this run's of {plan.part_size}"
    life = journal.expires_at - journal.created_at
    if not 0 < life <= LONGEST_UPLOAD_LIFE or journal.created_at > now + CLOCK_AHEAD:
        return "its Upload's dates make no sense"
    if journal.expires_at <= now + EXPIRY_MARGIN:
        return "its Upload expires too soon (or has expired)"
    numbers = [part.number for part in journal.parts]
    if len(set(numbers)) != len(numbers):
        return "it lists a Part twice"
    if any(not 0 <= number < len(plan.parts) for number in numbers):
        return "it lists a Part outside the plan"
    ids = [part.id for part in journal.parts]
    if len(set(ids)) != len(ids):
        return "it lists a Part id twice"
    for part_id in ids:
        try:
            check_object_id(part_id, "a Part id")
        except InvalidArgumentError as exc:
            return str(exc)
    return None
