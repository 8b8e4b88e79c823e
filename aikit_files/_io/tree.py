"""A batch's files on disk: walking a directory in sorted path order, never leaving it; reading a
small file whole."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence

from aikit_files._exceptions import InvalidArgumentError, LocalIOError
from aikit_files._protocol.many import selected


def walk(
    root: str, include: Sequence[str], exclude: Sequence[str], hidden: bool
) -> list[tuple[str, os.stat_result]]:
    """The files of ``root`` that go into a batch, with their ``stat``, in sorted path order.

    A symbolic link is followed only when its target is inside ``root`` (a folder reached twice
    is walked once); one that points out of it, or nowhere, is left out. Hidden names (a
    leading ``.``) are left out unless ``hidden``, and folders of them are not walked.

    Args:
        root: the directory.
        include: glob patterns on the path relative to ``root``; one must match.
        exclude: glob patterns on that path; none may match.
        hidden: whether hidden files and folders go too.

    Raises:
        InvalidArgumentError: ``root`` cannot be read.
    """
    real_root = os.path.realpath(root)
    try:
        files = sorted(_files(root, "", real_root, hidden, set()))
    except OSError as exc:
        raise InvalidArgumentError(f"sources: cannot read the directory {root!r}: {exc}") from exc
    return [
        (os.path.join(root, *relative), info)
        for relative, info in files
        if selected("/".join(relative), include, exclude, hidden)
    ]


def _inside(path: str, real_root: str) -> bool:
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _files(
    folder: str, prefix: str, real_root: str, hidden: bool, seen: set[tuple[int, int]]
) -> Iterator[tuple[tuple[str, ...], os.stat_result]]:
    """The regular files under ``folder`` as (relative path parts, stat)."""
    info = os.stat(folder)
    if (info.st_dev, info.st_ino) in seen:
        return
    seen.add((info.st_dev, info.st_ino))
    with os.scandir(folder) as found:
        children = list(found)
    base = tuple(prefix.split("/")) if prefix else ()
    for child in children:
        if not hidden and child.name.startswith("."):
            continue
        if child.is_symlink() and not _inside(child.path, real_root):
            continue
        try:
            child_info = child.stat()
        except FileNotFoundError:
            continue  # a dangling link, or a file removed meanwhile
        if stat.S_ISDIR(child_info.st_mode):
            relative = f"{prefix}/{child.name}" if prefix else child.name
            yield from _files(child.path, relative, real_root, hidden, seen)
        elif stat.S_ISREG(child_info.st_mode):
            yield (*base, child.name), child_info


def read_small(path: str, limit: int) -> bytes | None:
    """The content of the file at ``path`` if it holds no more than ``limit`` bytes; None if it
    holds more (it grew).

    Raises:
        LocalIOError: the file cannot be read.
    """
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise LocalIOError(f"cannot read {path!r}: {exc.strerror or exc}") from exc
    return data if len(data) <= limit else None
