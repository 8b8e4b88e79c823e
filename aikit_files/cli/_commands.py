"""The commands that call the Files API, each through one ``af.AsyncClient``."""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import aikit_files as af

from ._errors import Failure, ItemsFailed
from ._output import Output, size

T = TypeVar("T")
R = TypeVar("R")

#: Files uploaded at once (and deletions made at once) when ``--concurrency`` is not given.
DEFAULT_CONCURRENCY = 4
#: Errors that every other item of the command would meet too: the rest is not attempted.
_STOPS_ALL = (af.AuthenticationError, af.PermissionDeniedError, af.APIConnectionError)

Body = Callable[[af.AsyncClient, argparse.Namespace, Output], Awaitable[int]]


def output_for(args: argparse.Namespace) -> Output:
    """How the command prints, from ``--json`` and ``--quiet``."""
    return Output("json" if args.json else "quiet" if args.quiet else "text")


def client_for(args: argparse.Namespace) -> af.AsyncClient:
    """The client the options ask for; what they leave out, the client reads from the
    environment."""
    return af.AsyncClient(
        args.api_key,
        base_url=args.base_url,
        provider=args.provider,
        api_version=args.api_version,
    )


def _run(args: argparse.Namespace, body: Body) -> int:
    async def run() -> int:
        async with client_for(args) as client:
            return await body(client, args, output_for(args))

    return asyncio.run(run())


def _about(error: af.NotFoundError, file_id: str) -> BaseException:
    """A 404 that names ``file_id`` as the error line says it; another 404 (a wrong base URL)
    as it is."""
    if file_id in error.message or error.param in ("id", "file_id"):
        if error.message.lower().startswith("no such"):
            return Failure(f"no such file: {file_id}")
        return Failure(f"{file_id}: {error.message}")
    return error


async def _each(
    items: Sequence[T], work: Callable[[int, T], Awaitable[R]], concurrency: int
) -> tuple[list[R | None], list[tuple[T, BaseException]], int]:
    """Runs ``work`` on every item, ``concurrency`` at once; an error that the other items
    would meet too (a refused key, an unreachable server) stops the rest.

    Returns:
        Each item's value (None where it failed or did not run), the items that failed with
        their errors, and how many did not run.
    """
    limit = asyncio.Semaphore(concurrency)

    async def one(index: int, item: T) -> R:
        async with limit:
            return await work(index, item)

    tasks = [asyncio.create_task(one(index, item)) for index, item in enumerate(items)]
    try:
        pending: set[asyncio.Task[R]] = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            if any(not t.cancelled() and isinstance(t.exception(), _STOPS_ALL) for t in done):
                break
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    values: list[R | None] = []
    failures: list[tuple[T, BaseException]] = []
    for item, task in zip(items, tasks, strict=True):
        error = None if task.cancelled() else task.exception()
        values.append(None if task.cancelled() or error is not None else task.result())
        if error is not None:
            failures.append((item, error))
    return values, failures, sum(task.cancelled() for task in tasks)


def _check_failures(
    items: Sequence[str], failures: list[tuple[str, BaseException]], skipped: int, noun: str
) -> None:
    """Raises the error of the first item that failed: as it is when there was one item, with
    the item and a count otherwise."""
    if not failures:
        return
    item, error = failures[0]
    if len(items) == 1:
        raise error
    raise ItemsFailed(item, error, len(failures) + skipped, len(items), noun)


# --- upload ---


def upload(args: argparse.Namespace) -> int:
    """``upload PATH... --purpose P``: several files at once through one client."""
    # NOTE: every path is checked before any is sent: a typo uploads nothing.
    args.sizes = []
    for path in args.paths:
        if not os.path.exists(path):
            raise Failure(f"no such file: {path}")
        if os.path.isdir(path):
            raise Failure(f"{path} is a directory: name the files to upload")
        args.sizes.append(os.path.getsize(path))
    return _run(args, _upload)


async def _upload(client: af.AsyncClient, args: argparse.Namespace, out: Output) -> int:
    paths: list[str] = args.paths
    expires_after = None
    if args.expires_after is not None:
        expires_after = af.ExpiresAfter(seconds=args.expires_after)
    with out.bars() as bars:
        progress = [
            bars.add(args.filename or os.path.basename(path), total, started=False)
            for path, total in zip(paths, args.sizes, strict=True)
        ]

        async def send(index: int, path: str) -> af.OpenAIFile:
            progress[index].start()
            return await client.files.create(
                path,
                args.purpose,
                expires_after=expires_after,
                filename=args.filename,
                on_progress=progress[index].update,
                max_concurrency=args.concurrency,
                resume=True if args.resume else None,
                check=args.check,
            )

        values, failures, skipped = await _each(
            paths, send, args.concurrency or DEFAULT_CONCURRENCY
        )
    sent = [(path, file) for path, file in zip(paths, values, strict=True) if file is not None]
    if sent:
        files = [file for _, file in sent]
        out.result(
            files if len(paths) > 1 else files[0],
            [file.id for file in files],
            [
                f"uploaded {path} as {file.id} ({size(file.bytes)}, {file.purpose})"
                for path, file in sent
            ],
        )
    _check_failures(paths, failures, skipped, "uploads")
    return 0


# --- list, get ---


def list_files(args: argparse.Namespace) -> int:
    """``list``: one page, or ``--all`` of them."""
    return _run(args, _list)


async def _list(client: af.AsyncClient, args: argparse.Namespace, out: Output) -> int:
    query = af.FileListParameters(
        purpose=args.purpose, limit=args.limit, order=args.order, after=args.after
    )
    if args.all:
        files = [file async for file in client.files.iterate(query)]
        page = af.FileList(
            files,
            first_id=files[0].id if files else None,
            last_id=files[-1].id if files else None,
            has_more=False,
        )
    else:
        page = await client.files.list(query)
    out.file_list(page)
    return 0


def get(args: argparse.Namespace) -> int:
    """``get ID``: the file's metadata."""
    return _run(args, _get)


async def _get(client: af.AsyncClient, args: argparse.Namespace, out: Output) -> int:
    try:
        file = await client.files.retrieve(args.id)
    except af.NotFoundError as error:
        raise _about(error, args.id) from None
    out.file(file)
    return 0


# --- delete ---


def delete(args: argparse.Namespace) -> int:
    """``delete ID...``: each id is deleted even when another fails."""
    return _run(args, _delete)


async def _delete(client: af.AsyncClient, args: argparse.Namespace, out: Output) -> int:
    ids: list[str] = args.ids

    async def remove(_: int, file_id: str) -> af.FileDeleted:
        try:
            return await client.files.delete(file_id)
        except af.NotFoundError as error:
            raise _about(error, file_id) from None

    values, failures, skipped = await _each(ids, remove, DEFAULT_CONCURRENCY)
    deleted = [answer for answer in values if answer is not None]
    if deleted:
        out.result(
            deleted if len(ids) > 1 else deleted[0],
            [answer.id for answer in deleted],
            [f"deleted {answer.id}" for answer in deleted],
        )
    _check_failures(ids, failures, skipped, "deletions")
    return 0


# --- content, download ---


def content(args: argparse.Namespace) -> int:
    """``content ID``: the bytes, as they are, on stdout, and nothing else."""
    return _run(args, _content)


async def _content(client: af.AsyncClient, args: argparse.Namespace, out: Output) -> int:
    try:
        data = await client.files.content(args.id)
    except af.NotFoundError as error:
        raise _about(error, args.id) from None
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0


def download(args: argparse.Namespace) -> int:
    """``download ID DEST``: streamed to disk, with a progress bar on a terminal; into a
    directory under the file's own name."""
    args.into_directory = os.path.isdir(args.destination)
    return _run(args, _download)


async def _download(client: af.AsyncClient, args: argparse.Namespace, out: Output) -> int:
    destination = pathlib.Path(args.destination)
    try:
        if args.into_directory:
            file = await client.files.retrieve(args.id)
            name = pathlib.PurePath(file.filename).name
            destination /= name if name not in ("", ".", "..") else args.id
        with out.bars() as bars:
            bar = bars.add(destination.name, None)
            path = await client.files.download(args.id, destination, on_progress=bar.update)
    except af.NotFoundError as error:
        raise _about(error, args.id) from None
    count = path.stat().st_size
    out.result(
        {"id": args.id, "path": str(path), "bytes": count},
        [args.id],
        [f"downloaded {args.id} to {path} ({size(count)})"],
    )
    return 0


# --- wait, import-url ---


def wait(args: argparse.Namespace) -> int:
    """``wait ID``: until the file is processed (exit 1 if it ends in error)."""
    return _run(args, _wait)


async def _wait(client: af.AsyncClient, args: argparse.Namespace, out: Output) -> int:
    options = {} if args.max_wait is None else {"max_wait": args.max_wait}
    started = time.monotonic()
    try:
        with out.waiting(f"waiting for {args.id} to be processed"):
            file = await client.files.wait_for_processing(args.id, **options)
    except af.NotFoundError as error:
        raise _about(error, args.id) from None
    except af.APITimeoutError as error:
        if args.max_wait is not None and time.monotonic() - started >= args.max_wait:
            raise Failure(f"{error.message}: wait longer with --max-wait") from None
        raise
    out.result(file, [file.id], [f"{file.id} is {file.status}"])
    return 0


def import_url(args: argparse.Namespace) -> int:
    """``import-url URL --filename NAME --purpose P``: Azure's ``files/import``."""
    return _run(args, _import_url)


async def _import_url(client: af.AsyncClient, args: argparse.Namespace, out: Output) -> int:
    file = await client.files.import_url(args.url, args.filename, args.purpose)
    out.result(
        file,
        [file.id],
        [
            f"importing {file.filename} as {file.id} ({file.status}); follow it with: "
            f"aikit-files --provider azure wait {file.id}"
        ],
    )
    return 0
