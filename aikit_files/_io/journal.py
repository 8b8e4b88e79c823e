"""The journal of a resumable upload: which Upload it fills and which Parts are in, on disk.

One journal per destination and source path, under ``$XDG_CACHE_HOME/aikit_files/uploads/``
(``~/.cache/...``) unless the caller names the file. It is replaced atomically (a temporary
file, fsynced, renamed over it), so a crash leaves the old journal or the new one, never half
of one; it is removed once the file exists.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pathlib
import secrets

import attrs

from aikit_files import _serde
from aikit_files._exceptions import LocalIOError


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

    def matches(self, size: int, mtime_ns: int, part_size: int) -> bool:
        """Whether the journal was made for this very source and plan."""
        return (self.size, self.mtime_ns, self.part_size) == (size, mtime_ns, part_size)

    def with_part(self, part: DonePart) -> Journal:
        """The journal with one more Part done."""
        return attrs.evolve(self, parts=(*self.parts, part))


def default_folder() -> pathlib.Path:
    """Where journals go when the caller names none: the user's cache folder."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(cache) / "aikit_files" / "uploads"


def default_path(*identity: object) -> pathlib.Path:
    """The journal of an upload, named by what makes it the same upload (the API, the source's
    path, the filename, the purpose)."""
    digest = hashlib.sha256(json.dumps([str(part) for part in identity]).encode())
    return default_folder() / f"{digest.hexdigest()[:32]}.json"


def load(path: pathlib.Path) -> Journal | None:
    """The journal at ``path``, or None when there is none or it cannot be read (blocking I/O).

    A journal that cannot be read (a crash can't make one, but a hand can) is of no use: the
    upload starts over.
    """
    try:
        return _serde.structure(json.loads(path.read_bytes()), Journal)
    except Exception:  # missing, unreadable, not JSON, not a journal: all mean "none"
        return None


def save(path: pathlib.Path, journal: Journal) -> None:
    """Replaces the journal at ``path`` atomically (blocking I/O).

    Raises:
        LocalIOError: the journal cannot be written.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "xb") as file:
            file.write(json.dumps(_serde.unstructure(journal)).encode())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        raise LocalIOError(
            f"cannot write the upload journal {path}: {exc.strerror or exc}"
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def remove(path: pathlib.Path) -> None:
    """Removes the journal at ``path``, if there is one (blocking I/O)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
