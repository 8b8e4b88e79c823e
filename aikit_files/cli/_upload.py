"""``aikit-files upload``: files (or stdin) through one client, several at once, with progress,
resumable journals for large files, and a line per file in the order given."""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import sys
import time
from collections.abc import Sequence
from typing import BinaryIO

import aikit_files as af
from aikit_files._io import journal as journals
from aikit_files._limits import human_size
from aikit_files._protocol.journal import Journal, read_journal
from aikit_files._protocol.plan import goes_in_parts, plan_upload

from ._commands import DEFAULT_CONCURRENCY, InOrder, check_failures, each, run
from ._errors import Failure, describe, where
from ._output import Output
from ._units import duration, short_size

#: ``-`` as a PATH: the standard input.
STDIN = "-"


def upload(args: argparse.Namespace) -> int:
    """``upload PATH... --purpose P``: several files at once through one client."""
    # NOTE: every path is checked before any is sent: a typo uploads nothing.
    args.sizes = []
    for path in args.paths:
        if path == STDIN:
            args.sizes.append(None)
            continue
        if not os.path.exists(path):
            raise Failure(f"no such file: {path}")
        if os.path.isdir(path):
            raise Failure(f"{path} is a directory: name the files to upload")
        args.sizes.append(os.path.getsize(path))
    return run(args, _upload)


def _source(path: str) -> str | BinaryIO:
    return sys.stdin.buffer if path == STDIN else path


def _journal(args: argparse.Namespace, path: str, out: Output) -> pathlib.Path | None:
    """With ``--resume``, the journal of a file that goes in Parts (named by what makes it the
    same upload), after saying whether it resumes an upload and from where."""
    size = None if path == STDIN else os.path.getsize(path)
    if not args.resume or size is None or not goes_in_parts(size, args.upload_threshold):
        return None
    name = args.filename or os.path.basename(path)
    journal = journals.default_path(
        "aikit-files", where(args).url, os.path.abspath(path), name, args.purpose
    )
    try:
        raw = journals.read(journal)
        plan = plan_upload(size, args.part_size, args.concurrency, one_reader=False)
    except af.AIKitError:  # the upload itself says what is wrong
        return journal
    found = None if raw is None else read_journal(raw, plan, os.stat(path).st_mtime_ns, time.time())
    # NOTE: a journal of no use is the library's to report (one line saying why).
    if isinstance(found, Journal):
        sent = plan.bytes_of(found.done())
        out.note(
            f"resuming {name}: {len(found.parts)} of {len(plan.parts)} Parts already sent "
            f"({human_size(sent)} of {human_size(size)})"
        )
    return journal


async def _upload(client: af.AsyncClient, args: argparse.Namespace, out: Output) -> int:
    paths: list[str] = args.paths
    expires_after = None
    if args.expires_after is not None:
        expires_after = af.ExpiresAfter(seconds=args.expires_after)
    started = time.monotonic()
    lines = InOrder(len(paths), out)
    with out.transfers(len(paths)) as board:
        progress = [
            board.add(args.filename or os.path.basename(path), total)
            for path, total in zip(paths, args.sizes, strict=True)
        ]
        journals_used: dict[int, pathlib.Path] = {}
        stopped: set[int] = set()
        args.interruption = lambda: _upload_interrupted(paths, lines, stopped, journals_used)

        async def send(index: int, path: str) -> af.OpenAIFile:
            journal = _journal(args, path, out)
            if journal is not None:
                journals_used[index] = journal
            progress[index].start()
            try:
                file = await client.files.create(
                    _source(path),
                    args.purpose,
                    expires_after=expires_after,
                    filename=args.filename,
                    on_progress=progress[index].update,
                    max_concurrency=args.concurrency,
                    part_size=args.part_size,
                    upload_threshold=args.upload_threshold,
                    resume=journal if journal is not None else None,
                    check=args.check,
                )
            except asyncio.CancelledError:
                stopped.add(index)
                raise
            except Exception as error:
                lines.put(index, {"source": path, "error": describe(error, where(args))}, None)
                raise
            finally:
                progress[index].end()
            lines.put(
                index,
                file,
                f"uploaded {path} as {file.id} ({human_size(file.bytes or 0)}, {file.purpose})",
                file.id,
            )
            return file

        values, failures, skipped = await each(paths, send, args.concurrency or DEFAULT_CONCURRENCY)
    lines.finish(paths, "source")
    if len(paths) > 1:
        created = sum(value is not None for value in values)
        took = time.monotonic() - started
        sent = sum(file.bytes or 0 for file in values if file is not None)
        out.note(
            f"{created} created, {len(failures)} failed"
            + (f", {skipped} not started" if skipped else "")
            + f" in {duration(took)} ({short_size(sent / max(took, 1e-6))}/s)"
        )
    check_failures(paths, failures, skipped, "uploads")
    return 0


def _upload_interrupted(
    paths: Sequence[str],
    lines: InOrder,
    stopped: set[int],
    journals_used: dict[int, pathlib.Path],
) -> str:
    """What an interrupt did to the uploads: the line that says it, and what to do."""
    made = f"{lines.succeeded} of {len(paths)} files uploaded; " if len(paths) > 1 else ""
    kept = [journals_used[i] for i in sorted(stopped) if i in journals_used]
    if kept:
        more = f" and {len(kept) - 1} more" if len(kept) > 1 else ""
        return f"interrupted: {made}run the same command again to resume (journal: {kept[0]}{more})"
    if len(paths) == 1:
        return f"cancelled: {paths[0]} was not uploaded"
    return f"cancelled: {made}the rest were not"
