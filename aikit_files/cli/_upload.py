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
from ._errors import Failure, ItemsFailed, describe, where
from ._output import Output
from ._units import duration, short_size

#: ``-`` as a PATH: the standard input.
STDIN = "-"


def upload(args: argparse.Namespace) -> int:
    """``upload PATH... --purpose P``: several files at once through one client."""
    if _a_batch(args):
        return _batch(args)
    # NOTE: every path is checked before any is sent: a typo uploads nothing.
    args.sizes = []
    for path in args.paths:
        if path == STDIN:
            args.sizes.append(None)
            continue
        if not os.path.exists(path):
            raise Failure(f"no such file: {path}")
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


# --- directories, --skip-existing, --manifest: create_many ---


def _a_batch(args: argparse.Namespace) -> bool:
    """Whether the upload is a batch for ``create_many``: a directory among the paths, or one
    of the options only a batch takes."""
    return bool(
        args.include
        or args.exclude
        or args.hidden
        or args.skip_existing
        or args.manifest
        or any(path != STDIN and os.path.isdir(path) for path in args.paths)
    )


def _batch(args: argparse.Namespace) -> int:
    if STDIN in args.paths:
        raise Failure(
            "- (stdin) cannot go in a batch (a directory, --include, --exclude, --hidden, "
            "--skip-existing, --manifest): upload it on its own"
        )
    if args.filename is not None:
        raise Failure("--filename names one file: a batch keeps each file's own name")
    for path in args.paths:
        if not os.path.exists(path):
            raise Failure(f"no such file or directory: {path}")
    return run(args, _upload_batch)


async def _upload_batch(client: af.AsyncClient, args: argparse.Namespace, out: Output) -> int:
    started = time.monotonic()
    ended: list[af.FileResult] = []
    args.interruption = lambda: (
        f"interrupted: {sum(r.outcome == 'created' for r in ended)} files uploaded; "
        + (
            "run the same command again to send the rest"
            if args.manifest
            else "with --manifest FILE, running it again sends only the rest"
        )
    )
    with out.transfers(1) as board:
        overall = board.add("files", None)
        overall.start()
        try:
            batch = await client.files.create_many(
                args.paths,
                args.purpose,
                concurrency=args.concurrency or DEFAULT_CONCURRENCY,
                include=args.include or ("*",),
                exclude=args.exclude or (),
                hidden=args.hidden,
                skip_existing=args.skip_existing,
                manifest=args.manifest,
                on_file=ended.append,
                on_progress=overall.update,
                expires_after=(
                    None
                    if args.expires_after is None
                    else af.ExpiresAfter(seconds=args.expires_after)
                ),
                part_size=args.part_size,
                upload_threshold=args.upload_threshold,
                resume=True if args.resume else None,
                check=args.check,
            )
        finally:
            overall.end()
    sent = 0
    for result in batch.results:
        file = result.file
        if file is not None:
            verb = "uploaded" if result.outcome == "created" else "skipped (already there)"
            sent += (file.bytes or 0) if result.outcome == "created" else 0
            out.line(file, file.id, f"{verb} {result.source} as {file.id} "
                     f"({human_size(file.bytes or 0)}, {file.purpose})")  # fmt: skip
        else:
            error = result.exception or af.AIKitError(result.outcome or "failed")
            out.line({"source": result.source, "error": describe(error, where(args))}, None, None)
    took = time.monotonic() - started
    out.note(
        f"{batch.created} created, {batch.skipped} skipped, {batch.failed} failed"
        + (f", {batch.not_started} not started" if batch.not_started else "")
        + f" in {duration(took)} ({short_size(sent / max(took, 1e-6))}/s)"
    )
    failed = [r for r in batch.results if r.outcome in ("failed", "not_started")]
    for result in failed[1:]:
        out.note(
            f"{result.source}: {describe(result.exception or af.AIKitError('failed'), where(args))}"
        )
    if failed:
        first = failed[0]
        raise ItemsFailed(str(first.source), first.exception or af.AIKitError("not started"),
                          len(failed), len(batch.results), "uploads")  # fmt: skip
    return 0
