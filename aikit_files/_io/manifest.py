"""The manifest of a batch on disk: read once, rewritten whole atomically, appended to as it goes.

A manifest is JSON Lines: a header, then one record per event (a source about to be sent, a
file made). Each record is appended with a single ``write`` of one line, so a kill leaves at
worst its last line cut short, which a reader skips; the whole file is replaced atomically (a
temporary file, fsynced, renamed over it) when a run begins and when it ends, keeping only the
last record of each source. It never holds the API key: paths, sizes, times and file ids only.
The resume journals of the batch's large files live in a folder beside it (``NAME.uploads``).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import pathlib
import secrets
from collections.abc import Iterable

from aikit_files._exceptions import InvalidArgumentError, LocalIOError
from aikit_files._protocol.many import Record, header_line, is_header, latest, parse_record


def read(path: pathlib.Path) -> dict[tuple[str, str], Record]:
    """The last record of each source in the manifest at ``path``; empty if there is none.

    Raises:
        InvalidArgumentError: ``path`` is a folder, cannot be read, or holds something else
            than a manifest (it is never overwritten).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise InvalidArgumentError(f"manifest: {str(path)!r} is a directory") from None
    except OSError as exc:
        raise InvalidArgumentError(f"manifest: cannot read {str(path)!r}: {exc}") from exc
    if not data:
        return {}
    lines = data.splitlines()
    if not is_header(lines[0]):
        raise InvalidArgumentError(
            f"manifest: {str(path)!r} is not a manifest of aikit_files; name another file"
        )
    return latest(r for line in lines[1:] if (r := parse_record(line)) is not None)


def check_writable(path: pathlib.Path) -> None:
    """Checks, before any I/O of the batch, that the manifest's folder exists.

    Raises:
        InvalidArgumentError: it does not, or ``path`` is a folder.
    """
    if path.is_dir():
        raise InvalidArgumentError(f"manifest: {str(path)!r} is a directory")
    if not path.parent.is_dir():
        raise InvalidArgumentError(f"manifest: the directory {str(path.parent)!r} does not exist")


class ManifestWriter:
    """Appends the records of a run to its manifest, one line per write."""

    def __init__(self, path: pathlib.Path, purpose: str) -> None:
        self.path = path
        self._purpose = purpose
        self._records: dict[tuple[str, str], Record] = {}
        self._fd: int | None = None

    def open(self, records: dict[tuple[str, str], Record]) -> None:
        """Rewrites the manifest with ``records`` (atomically), then opens it for appending.

        Raises:
            LocalIOError: the manifest cannot be written.
        """
        self._records = dict(records)
        # NOTE: the temporary files of a run killed while it replaced the manifest.
        _remove(self.path.parent.glob(f".{glob.escape(self.path.name)}.*.tmp"))
        self._replace(self._records.values())
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        except OSError as exc:
            raise LocalIOError(f"cannot write the manifest {str(self.path)!r}: {exc}") from exc

    @property
    def journals(self) -> pathlib.Path:
        """The folder of the resume journals of the batch's large files, beside the manifest."""
        return self.path.with_name(f"{self.path.name}.uploads")

    def journal(self, path: str, filename: str) -> pathlib.Path:
        """The resume journal of a large file of the batch."""
        digest = hashlib.sha256(json.dumps([path, filename]).encode()).hexdigest()
        return self.journals / f"{digest[:32]}.json"

    def add(self, record: Record) -> None:
        """Appends one record.

        Raises:
            LocalIOError: the manifest cannot be written.
        """
        assert self._fd is not None
        self._records[record.key] = record
        try:
            # NOTE: one write of one line: a kill leaves it whole or cut short, never interleaved.
            os.write(self._fd, record.line())
        except OSError as exc:
            raise LocalIOError(f"cannot write the manifest {str(self.path)!r}: {exc}") from exc

    def close(self) -> None:
        """Closes the manifest, rewritten with the last record of each source."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        self._replace(self._records.values())
        # NOTE: a run killed while it replaced a journal left its temporary file; no upload of
        # the batch is under way now, so none is being written.
        _remove(self.journals.glob(".*.tmp"))
        # NOTE: and the lock of a journal that is gone (its holder was killed).
        _remove(lock for lock in self.journals.glob("*.lock") if not lock.with_suffix("").exists())
        with contextlib.suppress(OSError):
            self.journals.rmdir()  # only when no large upload is left under way

    def _replace(self, records: Iterable[Record]) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        try:
            with temporary.open("wb") as out:
                out.write(header_line(self._purpose))
                out.writelines(record.line() for record in records)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise LocalIOError(f"cannot write the manifest {str(self.path)!r}: {exc}") from exc


def _remove(paths: Iterable[pathlib.Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
