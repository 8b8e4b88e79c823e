"""The journal of a resumable upload on disk: where it goes, its atomic writes, and the lock
that lets one process at a time resume it.

One journal per destination and source path, under ``$XDG_CACHE_HOME/aikit_files/uploads/``
(``~/.cache/...``) unless the caller names the file. It is replaced atomically (a temporary
file, fsynced, renamed over it), so a crash leaves the old journal or the new one, never half
of one; it is removed once the file exists. What a journal holds, and whether it can be used,
is ``_protocol.journal``'s to say.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pathlib
import secrets

from aikit_files._exceptions import LocalIOError
from aikit_files._protocol.journal import Journal


def default_folder() -> pathlib.Path:
    """Where journals go when the caller names none: the user's cache folder."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(cache) / "aikit_files" / "uploads"


def default_path(*identity: object) -> pathlib.Path:
    """The journal of an upload, named by what makes it the same upload (the API, the source's
    path, the filename, the purpose)."""
    digest = hashlib.sha256(json.dumps([str(part) for part in identity]).encode())
    return default_folder() / f"{digest.hexdigest()[:32]}.json"


def path_for(resume: bool | str | os.PathLike[str], *identity: object) -> pathlib.Path:
    """The journal that ``resume`` asks for: the path it names, or (``True``) the default
    path of the upload that ``identity`` names."""
    if isinstance(resume, bool):
        return default_path(*identity)
    return pathlib.Path(os.fspath(resume))


def read(path: pathlib.Path) -> bytes | None:
    """The bytes of the journal at ``path``; None when there is none (blocking I/O).

    Raises:
        LocalIOError: there is one, but it cannot be read.
    """
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LocalIOError(f"cannot read the upload journal {path}: {exc.strerror or exc}") from exc


def save(path: pathlib.Path, journal: Journal) -> None:
    """Replaces the journal at ``path`` atomically (blocking I/O).

    Raises:
        LocalIOError: the journal cannot be written.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as file:
            file.write(journal.to_json())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        _fsync_folder(path.parent)
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


def _fsync_folder(folder: pathlib.Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class JournalLock:
    """The right to use one journal, held by one run at a time across processes: an
    exclusive ``flock`` on a lock file beside the journal (``NAME.lock``).

    The journal itself cannot carry the lock: it is replaced by a rename at every save. A run
    that finds the lock taken fails at once rather than waiting: the run that holds it is
    sending the same file, and waiting for it would end in a second file.
    """

    def __init__(self, journal: pathlib.Path) -> None:
        self.journal = journal
        self.path = journal.with_name(journal.name + ".lock")
        self._descriptor: int | None = None

    def acquire(self) -> None:
        """Takes the lock, making the journal's folder if needed (blocking I/O, never waits).

        Raises:
            LocalIOError: another run holds the lock, or the folder cannot be written (found
                before anything is sent).
        """
        try:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            while self._descriptor is None:
                self._descriptor = self._take()
        except OSError as exc:
            raise LocalIOError(
                f"cannot write the upload journal {self.journal}: {exc.strerror or exc}"
            ) from exc

    def _take(self) -> int | None:
        """The descriptor of the locked lock file; None when it must be tried again."""
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise LocalIOError(
                f"another process is resuming this upload (its journal {self.journal} is "
                "locked): let it finish, or stop it, before running this upload again"
            ) from None
        except BaseException:
            os.close(descriptor)
            raise
        # NOTE: the run that held the lock removes the lock file as it lets go: if it did so
        # between our open and our flock, the lock we hold is on a file no one else will open.
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            current = None
        mine = os.fstat(descriptor)
        if current is not None and (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
            return descriptor
        os.close(descriptor)
        return None

    def release(self) -> None:
        """Lets go of the lock and removes the lock file (blocking I/O); harmless twice."""
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is not None:
            # NOTE: removed while still held, so no other run can lock the file being removed.
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(descriptor)
