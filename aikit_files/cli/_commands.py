"""The commands that call the Files API, each through one ``af.AsyncClient``."""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import BinaryIO, TypeVar, cast

import aikit_files as af
from aikit_files._limits import human_size

from ._errors import Failure, ItemsFailed, describe, where
from ._output import Output, is_terminal

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


def run(args: argparse.Namespace, body: Body) -> int:
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


async def each(
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


def check_failures(
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


class InOrder:
    """Prints the items of a command of several (JSON Lines, ids, text) as they end, in the
    order given: an item waits for those before it."""

    def __init__(self, count: int, out: Output) -> None:
        self._items: list[tuple[object, str | None, str | None] | None] = [None] * count
        self._next = 0
        self._out = out
        self.succeeded = 0

    def put(self, index: int, value: object, text: str | None, item_id: str | None = None) -> None:
        """Item ``index`` ended: ``value`` (its JSON), its text and id (None: it failed)."""
        self._items[index] = (value, item_id, text)
        self.succeeded += item_id is not None
        self._flush()

    def finish(self, sources: Sequence[str], key: str) -> None:
        """Prints what is left, each item that never ended as not started."""
        for index in range(self._next, len(self._items)):
            if self._items[index] is None:
                self._items[index] = ({key: sources[index], "error": "not started"}, None, None)
        self._flush()

    def _flush(self) -> None:
        while self._next < len(self._items):
            ready = self._items[self._next]
            if ready is None:
                return
            self._out.line(*ready)
            self._next += 1


# --- list, get ---


def list_files(args: argparse.Namespace) -> int:
    """``list``: one page, or ``--all`` of them."""
    return run(args, _list)


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
    return run(args, _get)


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
    return run(args, _delete)


async def _delete(client: af.AsyncClient, args: argparse.Namespace, out: Output) -> int:
    ids: list[str] = args.ids
    lines = InOrder(len(ids), out)

    async def remove(index: int, file_id: str) -> af.FileDeleted:
        try:
            answer = await client.files.delete(file_id)
        except Exception as error:
            told = _about(error, file_id) if isinstance(error, af.NotFoundError) else error
            lines.put(index, {"id": file_id, "error": describe(told, where(args))}, None)
            raise told from None
        lines.put(index, answer, f"deleted {answer.id}", answer.id)
        return answer

    _, failures, skipped = await each(ids, remove, DEFAULT_CONCURRENCY)
    lines.finish(ids, "id")
    check_failures(ids, failures, skipped, "deletions")
    return 0


# --- content, download ---

#: ``-`` as DEST (or ``--output``): the standard output.
STDOUT = "-"


class _Guarded:
    """The standard output, which refuses binary content on a terminal unless told, as curl
    does: its first bytes decide."""

    def __init__(self, stream: BinaryIO, *, refuse_binary: bool, how: str) -> None:
        self._stream = stream
        self._refuse = refuse_binary
        self._how = how

    def write(self, data: bytes) -> int:
        if self._refuse:
            if b"\0" in data or not _utf8_prefix(data):
                raise Failure(
                    f"the content is binary and stdout is a terminal: {self._how}, "
                    "or redirect stdout to a file or a pipe"
                )
            self._refuse = False
        return self._stream.write(data)

    def flush(self) -> None:
        self._stream.flush()


def _utf8_prefix(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 text, allowing a character cut at its end."""
    try:
        data.decode()
    except UnicodeDecodeError as error:
        return error.start >= len(data) - 3 and error.reason == "unexpected end of data"
    return True


def content(args: argparse.Namespace) -> int:
    """``content ID``: the bytes, as they are, on stdout, and nothing else."""
    if args.output not in (None, STDOUT):
        args.destination = args.output
        return download(args)
    return run(args, _to_stdout)


async def _to_stdout(client: af.AsyncClient, args: argparse.Namespace, out: Output) -> int:
    """Streams the content to stdout, never whole in memory."""
    args.interruption = lambda: "cancelled: the content was cut short"
    how = (
        f"pass --output - to write it here anyway (aikit-files content {args.id} --output -)"
        if args.command == "content"
        else f"redirect it, or use 'aikit-files content {args.id} --output -'"
    )
    refuse = is_terminal(sys.stdout) and getattr(args, "output", None) != STDOUT
    sys.stdout.flush()
    stream = _Guarded(sys.stdout.buffer, refuse_binary=refuse, how=how)
    try:
        await client.files.download(args.id, cast(BinaryIO, stream))
    except af.NotFoundError as error:
        raise _about(error, args.id) from None
    return 0


def download(args: argparse.Namespace) -> int:
    """``download ID DEST``: streamed to disk, with progress on a terminal; into a directory
    under the file's own name; ``-``: to stdout, as ``content``."""
    if args.destination == STDOUT:
        return run(args, _to_stdout)
    args.into_directory = os.path.isdir(args.destination)
    return run(args, _download)


async def _download(client: af.AsyncClient, args: argparse.Namespace, out: Output) -> int:
    destination = pathlib.Path(args.destination)
    args.interruption = lambda: f"cancelled: nothing was written to {destination}"
    try:
        if args.into_directory:
            file = await client.files.retrieve(args.id)
            name = pathlib.PurePath(file.filename).name
            destination /= name if name not in ("", ".", "..") else args.id
        with out.transfers() as board:
            transfer = board.add(destination.name, None)
            transfer.start()
            try:
                path = await client.files.download(
                    args.id, destination, on_progress=transfer.update
                )
            finally:
                transfer.end()
    except af.NotFoundError as error:
        raise _about(error, args.id) from None
    count = path.stat().st_size
    out.result(
        {"id": args.id, "path": str(path), "bytes": count},
        [args.id],
        [f"downloaded {args.id} to {path} ({human_size(count)})"],
    )
    return 0


# --- wait, import-url ---


def wait(args: argparse.Namespace) -> int:
    """``wait ID``: until the file is processed (exit 1 if it ends in error)."""
    return run(args, _wait)


async def _wait(client: af.AsyncClient, args: argparse.Namespace, out: Output) -> int:
    options = {} if args.max_wait is None else {"max_wait": args.max_wait}
    args.interruption = lambda: (
        f"stopped waiting for {args.id}; the server goes on processing it: run the same "
        "command again to wait for it"
    )
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
    return run(args, _import_url)


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
