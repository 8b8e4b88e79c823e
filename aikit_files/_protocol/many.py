"""The many-files plan: which files of a directory go, what a manifest holds, what to skip.

Pure: the directory walk and the manifest's file live in ``_io.tree`` and ``_io.manifest``;
this module decides from what they read and from one listing of the purpose's files.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal, TypeAlias

import attrs

from aikit_files._models import OpenAIFile

#: The first line of a manifest, and the format's version.
MANIFEST_FORMAT: Final = "aikit_files.manifest"
MANIFEST_VERSION: Final = 1

#: Seconds the server's clock may lag ours, when a rerun looks for a file sent but not recorded.
CLOCK_SKEW: Final = 60.0

#: What became of a source in a batch.
Outcome: TypeAlias = Literal["created", "skipped", "failed", "not_started"]


def selected(relative: str, include: Sequence[str], exclude: Sequence[str], hidden: bool) -> bool:
    """Whether a file of a directory goes into the batch.

    Args:
        relative: its path relative to the directory, with ``/`` between names.
        include: glob patterns (``fnmatch``: ``*`` also matches ``/``); one must match.
        exclude: glob patterns; none may match.
        hidden: whether a name starting with ``.`` (file or folder) may go.
    """
    # NOTE: a name starts with "." where the path does, or after a "/".
    if not hidden and (relative.startswith(".") or "/." in relative):
        return False
    # NOTE: "*" matches every path, "/" included (the default include).
    if "*" not in include and not any(fnmatch.fnmatchcase(relative, p) for p in include):
        return False
    return not (exclude and any(fnmatch.fnmatchcase(relative, p) for p in exclude))


@attrs.frozen
class Entry:
    """One file of a batch, as described before any I/O."""

    source: str
    """What the result names: the path, or the filename of a blob."""
    filename: str
    """The filename sent."""
    size: int | None
    """Its bytes, when known."""
    path: str | None = None
    """Its absolute path (a file on disk), the key of its manifest record; None for a blob."""
    mtime_ns: int | None = None
    """Its modification time, for a file on disk."""


@attrs.frozen
class Record:
    """What a manifest says of one source: sent (``sending``) or made (``created``)."""

    path: str
    filename: str
    size: int
    mtime_ns: int
    state: Literal["sending", "created"]
    started: float
    """Unix time when the last run began to send it."""
    file_id: str | None = None
    """The file made, once ``created``."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.path, self.filename)

    def describes(self, entry: Entry) -> bool:
        """Whether the record is of this very source: neither its size nor its mtime moved."""
        return (self.path, self.filename, self.size, self.mtime_ns) == (
            entry.path,
            entry.filename,
            entry.size,
            entry.mtime_ns,
        )

    def line(self) -> bytes:
        """The record as one line of the manifest."""
        fields = attrs.asdict(self)
        if self.file_id is None:
            del fields["file_id"]
        return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def header_line(purpose: str) -> bytes:
    """The first line of a manifest."""
    head = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "purpose": purpose}
    return json.dumps(head, separators=(",", ":")).encode() + b"\n"


def is_header(line: bytes) -> bool:
    """Whether ``line`` is the first line of a manifest this version reads."""
    try:
        head = json.loads(line)
    except ValueError:
        return False
    return (
        isinstance(head, dict)
        and head.get("format") == MANIFEST_FORMAT
        and head.get("version") == MANIFEST_VERSION
    )


def parse_record(line: bytes) -> Record | None:
    """The record a manifest line holds; None for a line cut short by a kill, or not ours."""
    try:
        fields: Any = json.loads(line)
        record = Record(
            path=_typed(fields["path"], str),
            filename=_typed(fields["filename"], str),
            size=_typed(fields["size"], int),
            mtime_ns=_typed(fields["mtime_ns"], int),
            state=fields["state"],
            started=float(_typed(fields["started"], int | float)),
            file_id=None if fields.get("file_id") is None else _typed(fields["file_id"], str),
        )
    except (ValueError, KeyError, TypeError):
        return None
    return record if record.state in ("sending", "created") else None


def _typed(value: Any, kind: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(value)
    return value


def latest(records: Iterable[Record]) -> dict[tuple[str, str], Record]:
    """The last record of each source (a later line overrides an earlier one)."""
    return {record.key: record for record in records}


@attrs.frozen
class Skip:
    """A source not sent: the file it is already there as."""

    file: OpenAIFile
    adopted: bool = False
    """True when the file is one a killed run sent without recording it."""


def decide(
    entries: Sequence[Entry],
    listing: Iterable[OpenAIFile],
    records: dict[tuple[str, str], Record],
    *,
    skip_existing: bool,
) -> list[Skip | None]:
    """For each entry, the file it is skipped for, or None to send it.

    A manifest record of the same source (same size and mtime) skips it when its file is in
    the listing; one sent but not recorded as made is looked for there (same filename and size,
    made since it was sent) and skipped if found. With ``skip_existing``, any listed file of
    the same filename and size skips it. No listed file is taken for two records.

    Args:
        entries: the batch's sources, in order.
        listing: every file of the purpose, from one listing.
        records: the manifest's latest record of each source.
        skip_existing: whether a listed file of the same filename and size skips a source.
    """
    files = list(listing)
    by_id = {file.id: file for file in files}
    by_name_size: dict[tuple[str, int | None], OpenAIFile] = {}
    for file in files:
        by_name_size.setdefault((file.filename, file.bytes), file)
    # NOTE: the files recorded as made are claimed first, so that looking for an unrecorded one
    # never takes a file another record owns.
    claimed = {r.file_id for r in records.values() if r.state == "created" and r.file_id}
    newest_first = sorted(files, key=lambda file: file.created_at, reverse=True)
    decisions: list[Skip | None] = []
    for entry in entries:
        record = records.get((entry.path, entry.filename)) if entry.path is not None else None
        decision: Skip | None = None
        if record is not None and record.describes(entry):
            if record.state == "created" and record.file_id in by_id:
                decision = Skip(by_id[record.file_id])
            elif record.state == "sending":
                found = _sent_unrecorded(record, newest_first, claimed)
                if found is not None:
                    claimed.add(found.id)
                    decision = Skip(found, adopted=True)
        if decision is None and skip_existing:
            existing = by_name_size.get((entry.filename, entry.size))
            if existing is not None:
                decision = Skip(existing)
        decisions.append(decision)
    return decisions


def _sent_unrecorded(
    record: Record, newest_first: Sequence[OpenAIFile], claimed: set[str]
) -> OpenAIFile | None:
    since = record.started - CLOCK_SKEW
    for file in newest_first:
        if file.created_at < since:
            break
        if (file.filename, file.bytes) == (record.filename, record.size) and (
            file.id not in claimed
        ):
            return file
    return None
