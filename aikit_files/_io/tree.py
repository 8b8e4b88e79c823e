"""A batch's files: its sources expanded (a directory walked in sorted path order, never leaving
it) and described before any I/O; a small file read whole."""

from __future__ import annotations

import operator
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeAlias

from aikit_files._exceptions import InvalidArgumentError, InvalidArgumentTypeError, LocalIOError
from aikit_files._params import check_line
from aikit_files._protocol.many import Entry, selected
from aikit_files._protocol.sources import describe_source


def _mtime_ns(path: str) -> int:
    return os.stat(path).st_mtime_ns


def expand(
    sources: object, include: tuple[str, ...], exclude: tuple[str, ...], hidden: bool, limit: int
) -> tuple[list[Entry], list[Any]]:
    """The files of a batch's sources, described, and what ``create`` reads for each, in order.

    Args:
        sources: the ``sources`` of ``create_many``.
        include: glob patterns a directory's file must match (one of them).
        exclude: glob patterns a directory's file must not match.
        hidden: whether a directory's hidden files and folders go too.
        limit: the most bytes the API takes in one file.

    Raises:
        InvalidArgumentError: a source that cannot be sent (a ``TypeError`` too for one of
            no accepted type).
    """
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    if isinstance(sources, bytes | bytearray | memoryview) or not isinstance(sources, Iterable):
        raise InvalidArgumentTypeError(
            "sources must be a list of paths, directories or (source, filename) pairs"
        )
    entries: list[Entry] = []
    values: list[Any] = []
    for source in sources:
        if isinstance(source, tuple):
            if len(source) != 2:
                raise InvalidArgumentError("sources: a pair must be (source, filename)")
            value, filename = source
            check_line("sources: a pair's filename", filename)
        elif isinstance(source, bytes | bytearray | memoryview):
            raise InvalidArgumentError("sources: a blob needs a filename: pass (blob, filename)")
        elif isinstance(source, str | os.PathLike) and os.path.isdir(source):
            root = os.fsdecode(source)
            # NOTE: the names found below it are plain ones (no "." or ".."): a file's absolute
            # path is the root's, made once, followed by its path from the root.
            absolute = os.path.join(os.path.abspath(root), "")
            for relative, path, size, mtime_ns in walk(root, include, exclude, hidden):
                if size > limit:
                    raise InvalidArgumentError(
                        f"sources: {path!r} holds {size} bytes, more than the API "
                        f"accepts ({limit} bytes)"
                    )
                name = relative.rpartition("/")[2]
                native = relative if os.sep == "/" else relative.replace("/", os.sep)
                entries.append(Entry(path, name, size, absolute + native, mtime_ns))
                values.append(path)
            continue
        else:
            value, filename = source, None
        if hasattr(value, "__aiter__"):
            raise InvalidArgumentError(
                "sources: an async iterable cannot go in a batch (its size is unknown); use create"
            )
        described = describe_source(value, limit)
        filename = filename or described.filename
        if isinstance(value, str | os.PathLike):
            path = os.fsdecode(value)
            entries.append(
                Entry(path, filename, described.size, os.path.abspath(path), _mtime_ns(path))
            )
        else:
            entries.append(Entry(filename, filename, described.size))
        values.append(value)
    return entries, values


#: A file found by the walk: its names from the root down, path, size and mtime.
_Found: TypeAlias = tuple[tuple[str, ...], str, int, int]
_NAMES = operator.itemgetter(0)


def walk(
    root: str, include: Sequence[str], exclude: Sequence[str], hidden: bool
) -> list[tuple[str, str, int, int]]:
    """The files of ``root`` that go into a batch, in sorted path order: each as its path from
    ``root`` down (names joined with ``/``), its path (``root`` joined with it), its size and
    its modification time (``st_mtime_ns``).

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
        # NOTE: sorted by the names from the root down, which come first and differ from file
        # to file (a folder's files come before the next name that shares its prefix: "a/b"
        # before "a.b").
        found = sorted(_files(root, (), real_root, hidden, set()), key=_NAMES)
    except OSError as exc:
        raise InvalidArgumentError(f"sources: cannot read the directory {root!r}: {exc}") from exc
    return [
        (relative, path, size, mtime)
        for names, path, size, mtime in found
        if selected(relative := "/".join(names), include, exclude, hidden)
    ]


def _inside(path: str, real_root: str) -> bool:
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _files(
    folder: str, base: tuple[str, ...], real_root: str, hidden: bool, seen: set[tuple[int, int]]
) -> Iterator[_Found]:
    """The regular files under ``folder`` as (names from the root, path, size, mtime); a
    file's path is ``folder`` joined with its name, as ``os.path.join`` joins them."""
    info = os.stat(folder)
    if (info.st_dev, info.st_ino) in seen:
        return
    seen.add((info.st_dev, info.st_ino))
    with os.scandir(folder) as found:
        children = list(found)
    for child in children:
        name = child.name
        if not hidden and name.startswith("."):
            continue
        if child.is_symlink() and not _inside(child.path, real_root):
            continue
        try:
            child_info = child.stat()
        except FileNotFoundError:
            continue  # a dangling link, or a file removed meanwhile
        if stat.S_ISDIR(child_info.st_mode):
            yield from _files(child.path, (*base, name), real_root, hidden, seen)
        elif stat.S_ISREG(child_info.st_mode):
            # NOTE: numbers, not the stat result: a batch's thousands of these are kept.
            yield (*base, name), child.path, child_info.st_size, child_info.st_mtime_ns


def read_small(path: str, limit: int, size: int | None = None) -> bytes | None:
    """The content of the file at ``path`` if it holds no more than ``limit`` bytes; None if it
    holds more (it grew).

    Args:
        path: the file.
        limit: the most bytes to hold in memory.
        size: the size the walk found, if known: a first read that gives as much is the whole
            file, and no second read asks for its end.

    Raises:
        LocalIOError: the file cannot be read.
    """
    try:
        # NOTE: the descriptor itself, read whole: a file object costs a stat and a buffer (a
        # buffered one also asks whether the file is a terminal), a third of a small file's read.
        fd = os.open(path, os.O_RDONLY)
        try:
            # NOTE: asked for no more than it should hold (and one byte, to see it grew): a read
            # of ``limit`` would allocate that much for every file, and unmap it once cut.
            first = size + 1 if size is not None and size < limit else limit + 1
            data = os.read(fd, first)
            if len(data) != size:
                # NOTE: a read may give less than asked before the end (a pipe, some network
                # file systems): read on to the end, or past the limit.
                while len(data) <= limit and (more := os.read(fd, limit + 1 - len(data))):
                    data += more
        finally:
            os.close(fd)
    except OSError as exc:
        raise LocalIOError(f"cannot read {path!r}: {exc.strerror or exc}") from exc
    return data if len(data) <= limit else None
