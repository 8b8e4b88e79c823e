"""Soak: mixed Files API calls under random faults for a while, with the invariants checked as
the calls run and once more at the end.

The local server runs in a process of its own (``python -m aikit_files serve``, a fresh data
directory), so that its CPU does not mix with the client's; a ``FaultProxy`` in this process
sits in front of it and faults a seeded random share of the requests with every kind of fault:
resets (at once, or after some bytes of an upload), 429/500/502/503 with ``Retry-After`` or
``retry-after-ms``, delays, stalled bodies (either way; a few stall longer than the read
timeout, so that it fires), truncated responses and lost responses.

``--concurrency`` calls are in flight at any time, through one ``af.AsyncClient`` with default
settings but for its timeout (``af.Timeout(connect=, read=, write=)`` of ``--timeout`` seconds,
so that a stall fails a call instead of hanging it) and, for a share of them, one ``af.Client``
(the sync wrapper) with callbacks: creates from paths, blobs and seekable file objects of random
sizes, retrieves, lists, iterations, contents, downloads, deletes and ``wait_for_processing``,
every call with ``on_response``, ``on_error`` and ``on_terminate``.

Checked as it runs: every answer (an uploaded file's size, name and purpose; content and
downloads by SHA-256; pages without repeats; iterations that miss no file); every callback
exactly once and in order; every file a create returned, read back directly from the server
(not through the proxy) and compared by SHA-256 before any delete may take it; and, every
``--audit-every`` seconds, the server's list of files, read directly: no second file for one
create (a duplicate), no file no create was told about, none a successful delete left, none a
successful create lost. At the end the content of every file still there is compared again,
and what the run may have leaked is counted: asyncio tasks, open files, sockets to the proxy,
``.part`` files, files in the server's ``tmp/``, threads. Memory stays bounded: payloads live
only while their call runs; what is kept is hashes, ids and names. The exit status is 1 if a
duplicate, a lost callback, a leak or any other broken invariant was found.

    .venv/bin/python benchmarks/soak.py [--minutes 1] [--concurrency 16] [--seed 0]
        [--fault-rate 0.2] [--timeout 5] [--max-size-mib 4] [--max-files 200]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import contextvars
import functools
import gc
import hashlib
import io
import logging
import math
import pathlib
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final, TypeVar

import attrs
import psutil

import aikit_files as af
from aikit_files.testing import (
    Delay,
    Exchange,
    Fault,
    FaultProxy,
    LoseResponse,
    Reset,
    Respond,
    Rule,
    Stall,
    Truncate,
)

T = TypeVar("T")

API_KEY: Final = "sk-soak-local"
MiB: Final = 1024 * 1024
PURPOSES: Final = ("user_data", "assistants")
#: A call that has not ended after this long is hung: it is cancelled and counted.
HUNG_AFTER: Final = 180.0
#: A call whose ``on_terminate`` has not come this long after it ended is late (shown as it
#: runs; at the end, after the clients closed, one still missing is lost).
LATE_AFTER: Final = 10.0
#: Requests per arming of the proxy's rules, and how close to its end they are re-armed.
WINDOW: Final = 4000
MARGIN: Final = 1000
#: Faults of each arming: for any request, and for uploads only.
PALETTE: Final = 54
BODY_PALETTE: Final = 12
#: The share of uploads that get an upload-only fault (a reset part-way, a stalled body) on top
#: of the faults any request gets.
BODY_SHARE: Final = 0.3

#: How often each operation is chosen. Creates outweigh deletes until ``--max-files`` files are
#: live; from then on a create becomes a delete.
WEIGHTS: Final = {
    "create path": 7,
    "create blob": 7,
    "create file object": 7,
    "retrieve": 8,
    "wait_for_processing": 4,
    "list": 5,
    "iterate": 2,
    "content": 8,
    "download": 8,
    "delete": 12,
    "sync create": 4,
    "sync retrieve": 3,
    "sync content": 3,
    "sync download": 3,
    "sync delete": 3,
    "sync list": 2,
    "sync iterate": 1,
}
#: Operations that take no callbacks (they return an iterator).
NO_CALLBACKS: Final = frozenset({"iterate", "sync iterate"})

#: The callbacks of one call, by keyword.
Callbacks = dict[str, Any]


# --- the server -----------------------------------------------------------------------------


@attrs.frozen
class LocalServer:
    """The local server, running in a process of its own."""

    url: str
    data_dir: pathlib.Path
    log: pathlib.Path
    """Its standard error."""


@contextlib.contextmanager
def local_server(scratch: pathlib.Path) -> Iterator[LocalServer]:
    """Runs ``python -m aikit_files serve`` on a free port with a fresh data directory under
    ``scratch``; yields it once it listens."""
    data_dir = scratch / "server-data"
    log = scratch / "server.log"
    with log.open("wb") as errors:  # the child has its own copy: ours is closed at once
        process = subprocess.Popen(
            [sys.executable, "-m", "aikit_files", "serve", "--host", "127.0.0.1", "--port", "0",
             "--data-dir", str(data_dir), "--api-key", API_KEY],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )  # fmt: skip
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        found = re.match(r"aikit-files: serving (\S+)", line)
        if found is None:
            raise RuntimeError(f"the server did not start: {line!r}")
        yield LocalServer(found.group(1), data_dir, log)
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()


# --- the faults -----------------------------------------------------------------------------


#: How many kinds of fault ``any_fault`` makes.
ANY_KINDS: Final = 9


def any_fault(rng: random.Random, read_timeout: float, kind: int) -> Fault:
    """A fault for any request, of kind ``kind`` (0 to ``ANY_KINDS - 1``), its settings at
    random."""
    if kind == 0:
        return Reset()
    if kind <= 4:
        status = (429, 500, 502, 503)[kind - 1]
        if rng.random() < 0.5:
            return Respond(status, retry_after_ms=rng.randint(0, 300))
        return Respond(status, retry_after=rng.choice((0, 0.1, 0.25, "0", "0.5", "1")))
    if kind == 5:
        return Delay(round(rng.uniform(0.01, 0.5), 3))
    if kind == 6:
        return Stall(
            after_bytes=rng.choice((0, rng.randint(1, 256 * 1024))),
            seconds=stall(rng, read_timeout),
        )
    if kind == 7:
        after = rng.choice((0, rng.randint(1, 512), rng.randint(512, 256 * 1024)))
        return Truncate(after_bytes=after)
    return LoseResponse()


def body_fault(rng: random.Random, read_timeout: float, kind: int) -> Fault:
    """A fault for an upload: a reset after some bytes of its body (kind 0), or its body
    stalled (kind 1)."""
    after = rng.randint(1, 512 * 1024)
    if kind % 2 == 0:
        return Reset(after_bytes=after)
    return Stall(after_bytes=after, seconds=stall(rng, read_timeout), where="request")


def stall(rng: random.Random, read_timeout: float) -> float:
    """How long a stall lasts: mostly less than the read timeout, one in five longer."""
    if rng.random() < 0.8:
        return round(rng.uniform(0.05, 1.0), 3)
    return round(read_timeout + rng.uniform(0.5, 1.5), 3)


def describe(fault: Fault) -> str:
    """A fault's kind, as the report counts it."""
    if isinstance(fault, Reset):
        return "reset mid-upload" if fault.after_bytes else "reset"
    if isinstance(fault, Respond):
        return str(fault.status)
    if isinstance(fault, Stall):
        return f"stall {fault.where}"
    return {Delay: "delay", Truncate: "truncate", LoseResponse: "lost response"}[type(fault)]


class FaultSchedule:
    """Arms the proxy with rules that fault a random share of the requests.

    The rules select requests by their ordinal, which counts from the moment a rule is added;
    so they are drawn a window of ``WINDOW`` requests at a time, and drawn again as the window
    runs out. Each window has a palette of faults with settings of their own.
    """

    def __init__(self, proxy: FaultProxy, rate: float, read_timeout: float, seed: int):
        self._proxy = proxy
        self._rate = rate
        self._read_timeout = read_timeout
        self._rng = random.Random(seed)
        self._armed_at = 0

    def arm(self, requests: int) -> None:
        """Draws the faults of the next ``WINDOW`` requests, from the ``requests``-th on."""
        uploads = self._draw(BODY_PALETTE, self._rate * BODY_SHARE, body_fault)
        others = self._draw(PALETTE, self._rate, any_fault)
        rules = [Rule(f, method="POST", path="/v1/files", ordinal=o) for f, o in uploads]
        rules += [Rule(f, ordinal=o) for f, o in others]
        # NOTE: POST rules come first: on an upload they take precedence over the others.
        self._proxy.clear_rules()
        for rule in rules:
            self._proxy.add_rule(rule)
        self._armed_at = requests

    def _draw(
        self, size: int, rate: float, draw: Callable[[random.Random, float, int], Fault]
    ) -> list[tuple[Fault, set[int]]]:
        """A palette of ``size`` faults, and the ordinals of the window each applies to: a
        share ``rate`` of them in all."""
        # Each kind of fault in turn, so that every kind is as frequent in each window.
        faults = [draw(self._rng, self._read_timeout, kind % ANY_KINDS) for kind in range(size)]
        ordinals: list[set[int]] = [set() for _ in faults]
        for ordinal in range(1, WINDOW + 1):
            if self._rng.random() < rate:
                ordinals[self._rng.randrange(size)].add(ordinal)
        return [(f, o) for f, o in zip(faults, ordinals, strict=True) if o]

    def check(self, requests: int) -> None:
        """Draws again when the window is nearly used up."""
        if requests - self._armed_at >= WINDOW - MARGIN:
            self.arm(requests)


# --- what the run counts --------------------------------------------------------------------


@attrs.define
class OpStats:
    """The tally of one kind of operation."""

    calls: int = 0
    ok: int = 0
    failures: collections.Counter[str] = attrs.Factory(collections.Counter)
    retries: int = 0
    """Retries the client logged for these calls."""
    recovered: int = 0
    """Lost answers to an upload that the client's lookup found on the server."""
    callbacks: int = 0
    """``on_terminate`` deliveries."""
    bytes: int = 0
    """Bytes uploaded or read."""


@attrs.define
class Tracked:
    """The operation a task (or thread) runs, which the client's log records are counted for."""

    stats: OpStats
    events: list[str] | None = None
    """A create's story: the client's log lines about it, for the report of a duplicate."""


#: The operation the current task (or thread) runs. A call's task copies the context of the
#: code that starts it, and the sync client's loop thread gets the context of the thread that
#: calls it.
CURRENT_OP: contextvars.ContextVar[Tracked | None] = contextvars.ContextVar(
    "CURRENT_OP", default=None
)
_TALLY_LOCK = threading.Lock()


class ClientLog(logging.Handler):
    """Counts the client's log records (logger ``aikit_files``): retries and recovered answers
    against the operation that made them; warnings and errors are kept to report."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.problems: collections.Counter[str] = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        tracked = CURRENT_OP.get()
        template = str(record.msg)
        with _TALLY_LOCK:
            if tracked is not None and tracked.events is not None:
                tracked.events.append(f"{record.created % 1000:.3f} {record.getMessage()}")
            if template.startswith("retrying ") and tracked is not None:
                tracked.stats.retries += 1
            elif template.startswith("an upload lost its answer") and tracked is not None:
                tracked.stats.recovered += 1
            elif record.levelno >= logging.WARNING:
                self.problems[f"{record.levelname} {record.name}: {record.getMessage()[:200]}"] += 1


class LogTally(logging.Handler):
    """Counts records of other loggers (asyncio, aiohttp: the proxy's) instead of printing them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: collections.Counter[str] = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        first = record.getMessage().splitlines()[0][:160] if record.getMessage() else ""
        with _TALLY_LOCK:
            self.records[f"{record.levelname} {record.name}: {first}"] += 1


class CallBook:
    """Every call's callbacks: ``on_response`` or ``on_error``, then ``on_terminate``, each
    exactly once, telling what the caller saw. Three bytes a call (calls are numbered)."""

    RESPONSE: Final = 1
    ERROR: Final = 2
    TERMINATE: Final = 4

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen = bytearray()
        self._caller = bytearray()  # 0 running, 1 succeeded, 2 failed
        self._told = bytearray()  # what on_terminate's result said, same values
        self._ended_at: dict[int, float] = {}  # ended, without on_terminate yet
        self.doubled = 0
        self.misordered = 0
        self.disagreeing = 0
        self.examples: list[str] = []

    def open(self) -> int:
        with self._lock:
            self._seen.append(0)
            self._caller.append(0)
            self._told.append(0)
            return len(self._seen) - 1

    def callbacks(self, call: int, stats: OpStats) -> Callbacks:
        return {
            "on_response": functools.partial(self._first, call, self.RESPONSE),
            "on_error": functools.partial(self._first, call, self.ERROR),
            "on_terminate": functools.partial(self._terminate, call, stats),
        }

    def _problem(self, counter: str, call: int, what: str) -> None:
        setattr(self, counter, getattr(self, counter) + 1)
        if len(self.examples) < 10:
            self.examples.append(f"call {call}: {what}")

    def _first(self, call: int, flag: int, result: af.Result) -> None:
        with self._lock:
            seen = self._seen[call]
            if seen & (self.RESPONSE | self.ERROR):
                self._problem("doubled", call, "a second on_response/on_error")
            elif seen & self.TERMINATE:
                self._problem("misordered", call, "on_response/on_error after on_terminate")
            if result.success != (flag == self.RESPONSE):
                self._problem("disagreeing", call, f"success={result.success} given to {flag}")
            self._seen[call] = seen | flag

    def _terminate(self, call: int, stats: OpStats, result: af.Result) -> None:
        with self._lock:
            seen = self._seen[call]
            if seen & self.TERMINATE:
                self._problem("doubled", call, "a second on_terminate")
            elif not seen & (self.RESPONSE | self.ERROR):
                self._problem("misordered", call, "on_terminate without on_response/on_error")
            self._seen[call] = seen | self.TERMINATE
            told = 1 if result.success else 2
            self._told[call] = told
            if self._caller[call] not in (0, told):
                self._problem("disagreeing", call, "on_terminate disagrees with the caller")
            self._ended_at.pop(call, None)
        with _TALLY_LOCK:
            stats.callbacks += 1

    def ended(self, call: int, success: bool) -> None:
        """The caller saw the call end."""
        with self._lock:
            caller = 1 if success else 2
            self._caller[call] = caller
            if self._told[call] not in (0, caller):
                self._problem("disagreeing", call, "the caller disagrees with on_terminate")
            if not self._seen[call] & self.TERMINATE:
                self._ended_at[call] = time.monotonic()

    def late(self) -> int:
        """Calls that ended more than ``LATE_AFTER`` seconds ago, with no ``on_terminate``."""
        limit = time.monotonic() - LATE_AFTER
        with self._lock:
            return sum(1 for when in self._ended_at.values() if when < limit)

    def lost(self) -> int:
        """Calls with no ``on_terminate`` (after the clients closed: lost for good)."""
        with self._lock:
            return sum(1 for seen in self._seen if not seen & self.TERMINATE)

    @property
    def calls(self) -> int:
        return len(self._seen)


# --- what the server should hold ------------------------------------------------------------


@attrs.define(eq=False)
class Expected:
    """A file a create returned: what the server must hold under its id."""

    id: str
    filename: str
    size: int
    sha256: bytes
    purpose: str
    verified: bool = False
    """Its content was read back directly from the server and matched: it may be deleted."""
    readers: int = 0
    """Calls reading it now: it is not deleted under them."""
    deleting: bool = False
    """A delete started: no new call reads it."""


@attrs.define
class Issued:
    """A create's filename (each is issued once), and what became of the create."""

    kind: str
    size: int
    file_id: str | None = None
    failure: str | None = None
    """The class of the error a failed create raised."""
    told_maybe: bool = False
    """Its error said the server may have stored the file."""
    ended: float | None = None
    """When the create returned (``time.monotonic()``)."""
    events: list[str] | None = None
    """The client's log lines about it (its retries), if any."""


@attrs.define
class Findings:
    """Broken invariants, by the file ids that show them (found once, counted once)."""

    duplicates: set[str] = attrs.Factory(set)
    """A second file of one create (same issued filename)."""
    unknown: set[str] = attrs.Factory(set)
    """A file whose filename no create issued."""
    orphans_told: set[str] = attrs.Factory(set)
    """The file of a failed create whose error said the server may have stored it."""
    orphans_untold: set[str] = attrs.Factory(set)
    """The file of a failed create whose error did not say so: nobody was told about it."""
    undeleted: set[str] = attrs.Factory(set)
    """A file still there after a successful delete."""
    missing: set[str] = attrs.Factory(set)
    """A file a create returned, never deleted, that the server no longer lists."""
    corrupt: set[str] = attrs.Factory(set)
    """A file whose stored content differs from what was uploaded (final check)."""
    mismatches: int = 0
    """Answers that differed from what the server holds (content, download, metadata, pages)."""
    examples: list[str] = attrs.Factory(list)
    suspects: list[str] = attrs.Factory(list)
    """Filenames of the creates that made a duplicate or an unannounced file."""

    def note(self, what: str) -> None:
        if len(self.examples) < 20:
            self.examples.append(what)

    def mismatch(self, what: str) -> None:
        self.mismatches += 1
        self.note(what)

    @property
    def broken(self) -> int:
        return (
            len(self.duplicates)
            + len(self.unknown)
            + len(self.orphans_untold)
            + len(self.undeleted)
            + len(self.missing)
            + len(self.corrupt)
            + self.mismatches
        )


class Files:
    """What the soak made on the server, and what it expects there."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.live: dict[str, Expected] = {}
        self.issued: dict[str, Issued] = {}
        self.deleted: dict[str, float] = {}
        """Files a delete removed, and when it returned."""
        self.uncertain: set[str] = set()
        """Files whose delete failed: they may be there or not."""
        self._issued_count = 0

    def issue(self, kind: str, size: int) -> str:
        self._issued_count += 1
        filename = f"{self.prefix}-{self._issued_count:07d}.bin"
        self.issued[filename] = Issued(kind, size)
        return filename

    def readable(self, rng: random.Random) -> Expected | None:
        candidates = [e for e in self.live.values() if not e.deleting]
        return rng.choice(candidates) if candidates else None

    def deletable(self, rng: random.Random) -> Expected | None:
        candidates = [
            e for e in self.live.values() if e.verified and not e.deleting and not e.readers
        ]
        return rng.choice(candidates) if candidates else None


def said_maybe(error: BaseException) -> bool:
    """Whether a failed call's error says the server may have carried it out."""
    return "may have carried it out" in str(error)


def failure_class(error: BaseException) -> str:
    """An error's class, as the report counts failures; marked when it says the server may
    have carried the call out (the request was sent whole, no outcome was found)."""
    return type(error).__name__ + (" (may be done)" if said_maybe(error) else "")


async def audit(direct: af.AsyncClient, files: Files, findings: Findings) -> int:
    """Lists the server's files (directly, not through the proxy) and records what breaks an
    invariant; returns how many files it listed.

    Only creates and deletes that had ended when the listing began are judged.
    """
    started = time.monotonic()
    stable = {i: e for i, e in files.live.items() if not e.deleting}
    by_name: dict[str, list[af.OpenAIFile]] = collections.defaultdict(list)
    listed: set[str] = set()
    async for file in direct.files.iterate(limit=10_000):
        by_name[file.filename].append(file)
        listed.add(file.id)
    for filename, group in by_name.items():
        issued = files.issued.get(filename)
        if issued is None:
            for file in group:
                if file.id not in findings.unknown:
                    findings.unknown.add(file.id)
                    findings.note(f"{file.id} ({filename}): no create issued this filename")
            continue
        for file in group:
            deleted = files.deleted.get(file.id)
            if deleted is not None and deleted < started and file.id not in findings.undeleted:
                findings.undeleted.add(file.id)
                findings.note(f"{file.id} ({filename}): still there after its delete succeeded")
        if issued.ended is None or issued.ended > started:
            continue
        if issued.file_id is not None:
            extra = [f for f in group if f.id != issued.file_id]
        else:
            group = sorted(group, key=lambda f: (f.created_at, f.id))
            orphan, extra = group[0], group[1:]
            told = findings.orphans_told if issued.told_maybe else findings.orphans_untold
            if orphan.id not in told:
                told.add(orphan.id)
                if not issued.told_maybe:
                    findings.suspects.append(filename)
                    findings.note(
                        f"{orphan.id} ({filename}): its create failed with "
                        f"{issued.failure}, which did not say it may exist"
                    )
        for file in extra:
            if file.id not in findings.duplicates:
                findings.duplicates.add(file.id)
                findings.suspects.append(filename)
                findings.note(f"{file.id} ({filename}): a duplicate of {issued.file_id}")
    for file_id, expected in stable.items():
        if file_id not in listed and not expected.deleting and file_id not in findings.missing:
            findings.missing.add(file_id)
            findings.note(f"{file_id} ({expected.filename}): created, never deleted, not listed")
    return len(listed)


# --- the run --------------------------------------------------------------------------------


class Hung(Exception):
    """A call that did not end within ``HUNG_AFTER`` seconds (it was then cancelled)."""


@attrs.frozen
class Leaks:
    """What the run left behind once every client was closed."""

    tasks: int
    open_files: int
    sockets: int
    part_files: int
    server_tmp: int
    threads: int = 0
    unclosed: int = 0
    """Unclosed resources and unretrieved errors that asyncio or Python warned about."""

    @property
    def total(self) -> int:
        return sum(attrs.astuple(self))


class Soak:
    """The workload, its bookkeeping and its checks."""

    def __init__(
        self,
        args: argparse.Namespace,
        server: LocalServer,
        proxy: FaultProxy,
        scratch: pathlib.Path,
    ) -> None:
        self.args = args
        self.server = server
        self.proxy = proxy
        self.sources = scratch / "sources"
        self.downloads = scratch / "downloads"
        self.scratch = scratch
        self.timeout = af.Timeout(connect=args.timeout, read=args.timeout, write=args.timeout)
        self.stats = {kind: OpStats() for kind in WEIGHTS}
        self.book = CallBook()
        self.files = Files(f"soak{args.seed}")
        self.findings = Findings()
        self.schedule = FaultSchedule(proxy, args.fault_rate, args.timeout, args.seed)
        self.hung = 0
        self.audits = 0
        self.verified = 0
        """Files read back directly and compared by hash."""
        self.loop_errors: collections.Counter[str] = collections.Counter()
        self.resource_warnings: collections.Counter[str] = collections.Counter()
        self.started = time.monotonic()
        self.deadline = self.started + args.minutes * 60
        self._downloads = 0
        self._stopping = asyncio.Event()
        # Threads that start the sync client's calls (a call with callbacks returns at once).
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=args.concurrency, thread_name_prefix="soak-sync"
        )
        self.client = af.AsyncClient(API_KEY, base_url=proxy.url + "/v1", timeout=self.timeout)
        self.direct = af.AsyncClient(API_KEY, base_url=server.url + "/v1")
        self.sync: af.Client | None = None

    # --- running -------------------------------------------------------------------------

    async def run(self) -> Leaks:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_error)
        self.sources.mkdir()
        self.downloads.mkdir()
        self.sync = await loop.run_in_executor(
            self.pool,
            functools.partial(
                af.Client, API_KEY, base_url=self.proxy.url + "/v1", timeout=self.timeout
            ),
        )
        self.schedule.arm(len(self.proxy.exchanges))
        watchers = [
            asyncio.create_task(self._rearm(), name="soak.rearm"),
            asyncio.create_task(self._progress(), name="soak.progress"),
            asyncio.create_task(self._verify(), name="soak.verify"),
        ]
        await asyncio.gather(*(self._worker(i) for i in range(self.args.concurrency)))
        self._stopping.set()
        await asyncio.gather(*watchers)
        self.proxy.clear_rules()
        await self.client.aclose()
        await loop.run_in_executor(self.pool, self.sync.close)
        await self._final_audit()
        await self.direct.aclose()
        return await self._leaks()

    async def _worker(self, index: int) -> None:
        rng = random.Random(f"{self.args.seed}:{index}")
        kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
        while time.monotonic() < self.deadline:
            kind = rng.choices(kinds, weights)[0]
            if "create" in kind and len(self.files.live) >= self.args.max_files:
                kind = "sync delete" if kind.startswith("sync") else "delete"
            await self._operation(kind, rng)

    async def _operation(self, kind: str, rng: random.Random) -> None:
        sync = kind.startswith("sync ")
        name = kind.removeprefix("sync ")
        if name in ("retrieve", "wait_for_processing", "content", "download", "delete"):
            pick = self.files.deletable if name == "delete" else self.files.readable
            target = pick(rng)
            if target is None and name == "delete":
                # Every live file is being read, or not yet read back: list instead, so that
                # the number of live files stays near --max-files.
                kind, name = ("sync list" if sync else "list"), "list"
            elif target is None:
                kind, name = ("sync create" if sync else "create blob"), "create"
        else:
            target = None
        stats = self.stats[kind]
        token = CURRENT_OP.set(Tracked(stats, [] if name.startswith("create") else None))
        try:
            if name.startswith("create"):
                await self._create(kind, stats, rng)
            elif name in ("list", "iterate"):
                await getattr(self, f"_{name}")(sync, stats, rng)
            else:
                assert target is not None
                await getattr(self, f"_{name}")(sync, stats, target)
        finally:
            CURRENT_OP.reset(token)

    async def _call(
        self, stats: OpStats, start: Callable[[Callbacks], Awaitable[T]]
    ) -> T | BaseException:
        """Runs one call with its callbacks; returns its value, or the error it ended in."""
        call = self.book.open()
        stats.calls += 1
        try:
            value = await self._watched(start(self.book.callbacks(call, stats)))
        except (af.AIKitError, Hung) as error:
            self.book.ended(call, success=False)
            stats.failures[failure_class(error)] += 1
            return error
        self.book.ended(call, success=True)
        stats.ok += 1
        return value

    async def _plain(self, stats: OpStats, start: Callable[[], Awaitable[T]]) -> T | BaseException:
        """Runs one call that takes no callbacks; returns its value, or its error."""
        stats.calls += 1
        try:
            value = await self._watched(start())
        except (af.AIKitError, Hung) as error:
            stats.failures[failure_class(error)] += 1
            return error
        stats.ok += 1
        return value

    async def _watched(self, awaitable: Awaitable[T]) -> T:
        task = asyncio.ensure_future(awaitable)
        done, _ = await asyncio.wait({task}, timeout=HUNG_AFTER)
        if not done:
            self.hung += 1
            task.cancel()
            await asyncio.wait({task})
            raise Hung(f"the call had not ended after {HUNG_AFTER} s")
        return task.result()

    async def _in_thread(self, start: Callable[[], Any]) -> Any:
        """Starts a call of the sync client from a thread of the pool (with this task's
        context); awaits the Future it returns, when it returns one."""
        context = contextvars.copy_context()
        started = await asyncio.get_running_loop().run_in_executor(self.pool, context.run, start)
        if isinstance(started, concurrent.futures.Future):
            return await asyncio.wrap_future(started)
        return started

    def _sync_files(self) -> af.FilesAPI:
        assert self.sync is not None
        return self.sync.files

    # --- the operations ------------------------------------------------------------------

    def _size(self, rng: random.Random) -> int:
        """From 1 byte to ``--max-size-mib`` MiB, log-uniform: most are small, some large."""
        return max(1, int(math.exp(rng.uniform(0, math.log(self.args.max_size_mib * MiB)))))

    async def _create(self, kind: str, stats: OpStats, rng: random.Random) -> None:
        size = self._size(rng)
        payload = rng.randbytes(size)
        digest = hashlib.sha256(payload).digest()
        purpose = rng.choice(PURPOSES)
        filename = self.files.issue(kind, size)
        source: pathlib.Path | bytes | io.BytesIO
        path = self.sources / filename
        if kind in ("create path", "sync create"):
            await asyncio.to_thread(path.write_bytes, payload)
            source = path
        elif kind == "create blob":
            source = payload
        else:
            # Read from where it stands, not from its start: a retry must rewind to there.
            junk = rng.randbytes(rng.randint(0, 1000))
            source = io.BytesIO(junk + payload)
            source.seek(len(junk))
        del payload
        if kind == "sync create":
            files = self._sync_files()
            outcome = await self._call(
                stats,
                lambda cb: self._in_thread(
                    lambda: files.create(source, purpose, filename=filename, **cb)
                ),
            )
        else:
            outcome = await self._call(
                stats, lambda cb: self.client.files.create(source, purpose, filename=filename, **cb)
            )
        if isinstance(source, io.BytesIO):
            source.close()
        path.unlink(missing_ok=True)
        issued = self.files.issued[filename]
        issued.ended = time.monotonic()
        tracked = CURRENT_OP.get()
        if tracked is not None and tracked.events:
            issued.events = tracked.events
        if isinstance(outcome, BaseException):
            issued.failure = type(outcome).__name__
            issued.told_maybe = said_maybe(outcome)
            return
        stats.bytes += size
        file: af.OpenAIFile = outcome
        issued.file_id = file.id
        if (file.bytes, file.filename, file.purpose) != (size, filename, purpose):
            self.findings.mismatch(
                f"create {filename}: got {file.bytes} {file.filename} {file.purpose}"
            )
        self.files.live[file.id] = Expected(file.id, filename, size, digest, purpose)

    async def _retrieve(self, sync: bool, stats: OpStats, target: Expected) -> None:
        await self._metadata(sync, stats, target, "retrieve")

    async def _wait_for_processing(self, sync: bool, stats: OpStats, target: Expected) -> None:
        await self._metadata(sync, stats, target, "wait_for_processing")

    async def _metadata(self, sync: bool, stats: OpStats, target: Expected, method: str) -> None:
        target.readers += 1
        try:
            if sync:
                call = getattr(self._sync_files(), method)
                outcome = await self._call(
                    stats, lambda cb: self._in_thread(lambda: call(target.id, **cb))
                )
            else:
                call = getattr(self.client.files, method)
                outcome = await self._call(stats, lambda cb: call(target.id, **cb))
        finally:
            target.readers -= 1
        if isinstance(outcome, BaseException):
            return
        file: af.OpenAIFile = outcome
        got = (file.id, file.bytes, file.filename, file.purpose, file.status)
        wanted = (target.id, target.size, target.filename, target.purpose, "processed")
        if got != wanted:
            self.findings.mismatch(f"{method} {target.id}: {got} instead of {wanted}")

    async def _content(self, sync: bool, stats: OpStats, target: Expected) -> None:
        target.readers += 1
        try:
            if sync:
                files = self._sync_files()
                outcome = await self._call(
                    stats, lambda cb: self._in_thread(lambda: files.content(target.id, **cb))
                )
            else:
                outcome = await self._call(
                    stats, lambda cb: self.client.files.content(target.id, **cb)
                )
        finally:
            target.readers -= 1
        if isinstance(outcome, BaseException):
            return
        content: bytes = outcome
        stats.bytes += len(content)
        if hashlib.sha256(content).digest() != target.sha256:
            self.findings.mismatch(
                f"content {target.id}: {len(content)} bytes, not the ones uploaded"
            )

    async def _download(self, sync: bool, stats: OpStats, target: Expected) -> None:
        self._downloads += 1
        destination = self.downloads / f"{target.id}-{self._downloads}.bin"
        target.readers += 1
        try:
            if sync:
                files = self._sync_files()
                outcome = await self._call(
                    stats,
                    lambda cb: self._in_thread(
                        lambda: files.download(target.id, destination, **cb)
                    ),
                )
            else:
                outcome = await self._call(
                    stats, lambda cb: self.client.files.download(target.id, destination, **cb)
                )
        finally:
            target.readers -= 1
        if isinstance(outcome, BaseException):
            if destination.exists():
                self.findings.mismatch(f"download {target.id} failed yet left {destination.name}")
            return
        content = await asyncio.to_thread(destination.read_bytes)
        destination.unlink()
        stats.bytes += len(content)
        if outcome != destination or hashlib.sha256(content).digest() != target.sha256:
            self.findings.mismatch(
                f"download {target.id}: {len(content)} bytes, not the ones uploaded"
            )

    async def _delete(self, sync: bool, stats: OpStats, target: Expected) -> None:
        target.deleting = True
        if sync:
            files = self._sync_files()
            outcome = await self._call(
                stats, lambda cb: self._in_thread(lambda: files.delete(target.id, **cb))
            )
        else:
            outcome = await self._call(stats, lambda cb: self.client.files.delete(target.id, **cb))
        del self.files.live[target.id]
        if isinstance(outcome, BaseException):
            self.files.uncertain.add(target.id)
            return
        self.files.deleted[target.id] = time.monotonic()
        if outcome != af.FileDeleted(id=target.id, deleted=True):
            self.findings.mismatch(f"delete {target.id}: {outcome}")

    async def _list(self, sync: bool, stats: OpStats, rng: random.Random) -> None:
        options: dict[str, Any] = {
            "limit": rng.choice((1, 10, 100)),
            "order": rng.choice(("asc", "desc")),
        }
        if rng.random() < 0.5:
            options["purpose"] = rng.choice(PURPOSES)
        if sync:
            files = self._sync_files()
            outcome = await self._call(
                stats, lambda cb: self._in_thread(lambda: files.list(**options, **cb))
            )
        else:
            outcome = await self._call(stats, lambda cb: self.client.files.list(**options, **cb))
        if isinstance(outcome, BaseException):
            return
        page: af.FileList = outcome
        ids = [f.id for f in page.data]
        if len(ids) != len(set(ids)) or len(ids) > options["limit"]:
            self.findings.mismatch(f"list {options}: {len(ids)} files, {len(set(ids))} distinct")
        purpose = options.get("purpose")
        if purpose is not None and any(f.purpose != purpose for f in page.data):
            self.findings.mismatch(f"list {options}: a file of another purpose")

    async def _iterate(self, sync: bool, stats: OpStats, rng: random.Random) -> None:
        stable = {i: e for i, e in self.files.live.items() if not e.deleting}
        limit = rng.choice((20, 50, 100))
        if sync:
            files = self._sync_files()
            outcome = await self._plain(
                stats, lambda: self._in_thread(lambda: [f.id for f in files.iterate(limit=limit)])
            )
        else:
            outcome = await self._plain(stats, lambda: self._ids(limit))
        if isinstance(outcome, BaseException):
            return
        ids: list[str] = outcome
        seen = set(ids)
        if len(ids) != len(seen):
            self.findings.mismatch(f"iterate (limit {limit}): {len(ids) - len(seen)} repeated")
        # A file created before the iteration began, and not deleted since, must be in it.
        missed = [i for i, e in stable.items() if i not in seen and not e.deleting]
        if missed:
            self.findings.mismatch(f"iterate (limit {limit}) missed {len(missed)}: {missed[:3]}")

    async def _ids(self, limit: int) -> list[str]:
        return [f.id async for f in self.client.files.iterate(limit=limit)]

    # --- watching ------------------------------------------------------------------------

    async def _rearm(self) -> None:
        while not self._stopping.is_set():
            self.schedule.check(len(self.proxy.exchanges))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 0.25)

    async def _progress(self) -> None:
        every = self.args.audit_every
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), every)
            if self._stopping.is_set():
                return
            listed = await audit(self.direct, self.files, self.findings)
            self.audits += 1
            print(self._progress_line(listed), flush=True)

    def _progress_line(self, listed: int) -> str:
        elapsed = time.monotonic() - self.started
        calls = sum(s.calls for s in self.stats.values())
        failed = sum(s.calls - s.ok for s in self.stats.values())
        retries = sum(s.retries for s in self.stats.values())
        exchanges = self.proxy.exchanges
        faulted = sum(1 for e in exchanges if e.fault is not None)
        held = self._held()
        f = self.findings
        return (
            f"{elapsed / 60:5.1f} min  calls {calls:6d} (failed {failed})  retries {retries:5d}  "
            f"requests {len(exchanges):6d} ({faulted / max(1, len(exchanges)):.1%} faulted)  "
            f"files {listed:4d}  tasks {len(asyncio.all_tasks()):3d}  sockets {held['sockets']:3d}  "
            f"open files {held['open files']:2d}  threads {threading.active_count():3d}  "
            f"RSS {psutil.Process().memory_info().rss / 1e6:4.0f} MB  "
            f"late callbacks {self.book.late()}  duplicates {len(f.duplicates)}  "
            f"broken {f.broken}"
        )

    def open_files(self) -> list[str]:
        """Files under the scratch folder this process has open (sources, downloads)."""
        scratch = str(self.scratch)
        return [f.path for f in psutil.Process().open_files() if f.path.startswith(scratch)]

    def _held(self) -> dict[str, int]:
        process = psutil.Process()
        port = int(self.proxy.url.rsplit(":", 1)[1])
        return {
            "open files": len(self.open_files()),
            "sockets": sum(
                1
                for c in process.net_connections("tcp")
                if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
            ),
        }

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.loop_errors[str(context.get("message"))[:160]] += 1

    def resource_warning(self, message: str) -> None:
        self.resource_warnings[message[:160]] += 1

    async def _verify(self) -> None:
        """Reads back each new file directly from the server, and compares it by hash."""
        while not self._stopping.is_set():
            new = [e for e in self.files.live.values() if not e.verified and not e.deleting]
            for expected in new:
                await self._check_stored(expected)
                expected.verified = True
            if not new:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 0.1)

    async def _check_stored(self, expected: Expected) -> None:
        try:
            content = await self.direct.files.content(expected.id)
        except af.NotFoundError:
            return  # the audit counts it missing
        self.verified += 1
        if hashlib.sha256(content).digest() != expected.sha256:
            self.findings.corrupt.add(expected.id)
            self.findings.note(f"{expected.id}: stored content differs from what was sent")

    # --- the end -------------------------------------------------------------------------

    async def _final_audit(self) -> None:
        """The last audit, after every call ended, and every live file's content by hash."""
        await audit(self.direct, self.files, self.findings)
        self.audits += 1
        for expected in list(self.files.live.values()):
            await self._check_stored(expected)

    async def _leaks(self) -> Leaks:
        gc.collect()
        await asyncio.sleep(0.5)  # let closed connections and finished threads settle
        held = self._held()
        tmp = self.server.data_dir / "tmp"
        for _ in range(50):  # the server may still be dropping an upload cut off at the end
            server_tmp = sum(1 for _ in tmp.iterdir())
            if not server_tmp:
                break
            await asyncio.sleep(0.2)
        self.pool.shutdown(wait=True)
        for path in self.open_files():
            self.findings.note(f"open file left: {path}")
        return Leaks(
            tasks=len(asyncio.all_tasks()) - 1,  # but this one
            open_files=held["open files"],
            sockets=held["sockets"],
            part_files=sum(1 for _ in self.scratch.rglob("*.part")),
            server_tmp=server_tmp,
        )


# --- the report -----------------------------------------------------------------------------


def explain(soak: Soak, filename: str, exchanges: list[Exchange]) -> None:
    """Prints what is known of a create that made a duplicate: the client's log lines about
    it, and the uploads the proxy saw whose size fits its body."""
    issued = soak.files.issued[filename]
    outcome = issued.file_id or f"failed: {issued.failure}"
    print(f"    {filename}: {issued.kind}, {issued.size} bytes, {outcome}")
    for event in issued.events or ():
        print(f"      client: {event[:220]}")
    for e in exchanges:
        if e.method == "POST" and issued.size <= e.request_bytes <= issued.size + 1024:
            print(
                f"      proxy: #{e.ordinal} {e.request_bytes} bytes, fault {e.fault}, "
                f"forwarded {e.forwarded}, upstream {e.upstream_status}, sent {e.status}"
            )


def report(soak: Soak, leaks: Leaks, client_log: ClientLog, tally: LogTally) -> int:
    """Prints what the run did and found; returns the exit status."""
    args = soak.args
    elapsed = time.monotonic() - soak.started
    print(
        f"\nran {elapsed / 60:.1f} min; {soak.audits} audits of the server's list of files; "
        f"{soak.verified} files read back directly and compared by SHA-256\n"
    )
    header = (
        f"{'operation':<22} {'calls':>7} {'ok':>7} {'failed':>6} {'retries':>7} "
        f"{'recovered':>9} {'callbacks':>9} {'MiB':>8}"
    )
    print(header)
    print("-" * len(header))
    total = OpStats()
    for kind, s in soak.stats.items():
        callbacks = "n/a" if kind in NO_CALLBACKS else str(s.callbacks)
        print(
            f"{kind:<22} {s.calls:>7} {s.ok:>7} {s.calls - s.ok:>6} {s.retries:>7} "
            f"{s.recovered:>9} {callbacks:>9} {s.bytes / MiB:>8.1f}"
        )
        total.calls += s.calls
        total.ok += s.ok
        total.retries += s.retries
        total.recovered += s.recovered
        total.callbacks += s.callbacks
        total.bytes += s.bytes
    with_callbacks = sum(s.calls for k, s in soak.stats.items() if k not in NO_CALLBACKS)
    print("-" * len(header))
    print(
        f"{'total':<22} {total.calls:>7} {total.ok:>7} {total.calls - total.ok:>6} "
        f"{total.retries:>7} {total.recovered:>9} {total.callbacks:>9} {total.bytes / MiB:>8.1f}"
    )
    print(f"(callbacks: on_terminate deliveries, of {with_callbacks} calls with callbacks)")

    print("\nfailures by error class ((may be done): the error says the server may have done it)")
    failures = [(k, c, n) for k, s in soak.stats.items() for c, n in sorted(s.failures.items())]
    for kind, error, count in failures:
        print(f"  {kind:<22} {error:<34} {count:>5}")
    if not failures:
        print("  none")

    exchanges = soak.proxy.exchanges
    kinds = collections.Counter(describe(e.fault) for e in exchanges if e.fault is not None)
    faulted = sum(kinds.values())
    print(
        f"\nfaults injected: {faulted} of {len(exchanges)} requests "
        f"({faulted / max(1, len(exchanges)):.1%})"
    )
    print("  " + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())))

    f = soak.findings
    lost = soak.book.lost()
    print("\ninvariants")
    rows = [
        ("duplicates (a second file of one create)", len(f.duplicates)),
        ("files nobody was told about (unknown name)", len(f.unknown)),
        ("files of failed creates that did not say so", len(f.orphans_untold)),
        ("files still there after a successful delete", len(f.undeleted)),
        ("created files gone without a delete", len(f.missing)),
        ("stored content differing from the upload", len(f.corrupt)),
        ("answers differing from the server's files", f.mismatches),
        ("lost callbacks (no on_terminate)", lost),
        ("callbacks twice", soak.book.doubled),
        ("callbacks out of order", soak.book.misordered),
        ("callbacks disagreeing with the caller", soak.book.disagreeing),
        ("hung calls", soak.hung),
    ]
    for label, value in rows:
        print(f"  {label:<46} {value:>6}")
    print(
        f"  (files of failed creates whose error said they may exist: {len(f.orphans_told)}; "
        f"deletes that failed, outcome unknown: {len(soak.files.uncertain)})"
    )
    for example in f.examples + soak.book.examples:
        print(f"    {example}")

    for filename in f.suspects[:5]:
        explain(soak, filename, exchanges)

    print("\nleaks, once the clients closed")
    for label, value in [
        ("asyncio tasks", leaks.tasks),
        ("open files", leaks.open_files),
        ("sockets to the proxy", leaks.sockets),
        (".part files", leaks.part_files),
        ("files in the server's tmp/", leaks.server_tmp),
        ("threads", leaks.threads),
        ("unclosed/unretrieved (warned)", leaks.unclosed),
    ]:
        print(f"  {label:<46} {value:>6}")
    for message, count in (soak.loop_errors + soak.resource_warnings).items():
        print(f"    {count} x {message}")

    if client_log.problems or tally.records:
        print("\nlog records (warnings and errors)")
        for message, count in (client_log.problems + tally.records).most_common(10):
            print(f"  {count:>5} x {message}")
    server_log = soak.server.log.read_text(errors="replace").splitlines()
    if server_log:
        print(f"\nthe server wrote {len(server_log)} lines to stderr; the first ones:")
        for line in server_log[:10]:
            print(f"  {line[:200]}")

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process (client and proxy): {peak:.0f} MB")
    broken = (
        f.broken
        + lost
        + soak.book.doubled
        + soak.book.misordered
        + soak.book.disagreeing
        + soak.hung
        + leaks.total
    )
    print(f"result: {'FAILED' if broken else 'OK'} (seed {args.seed})")
    return 1 if broken else 0


# --- main -----------------------------------------------------------------------------------


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="how long to run (1)")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight (16)")
    parser.add_argument("--seed", type=int, default=0, help="seeds faults and workload (0)")
    parser.add_argument(
        "--fault-rate", type=float, default=0.2, help="share of requests faulted (0.2)"
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="client connect/read/write timeout, s (5)"
    )
    parser.add_argument("--max-size-mib", type=float, default=4.0, help="largest upload (4)")
    parser.add_argument("--max-files", type=int, default=200, help="live files at most (200)")
    parser.add_argument("--audit-every", type=float, default=15.0, help="seconds (15)")
    return parser.parse_args()


def main() -> int:
    args = parse_arguments()
    client_log = ClientLog()
    library = logging.getLogger("aikit_files")
    library.setLevel(logging.INFO)
    library.propagate = False
    library.addHandler(client_log)
    tally = LogTally()
    for name in ("asyncio", "aiohttp"):
        other = logging.getLogger(name)
        other.propagate = False
        other.addHandler(tally)
    with tempfile.TemporaryDirectory(prefix="aikit-soak-") as folder:
        scratch = pathlib.Path(folder)
        with local_server(scratch) as server, FaultProxy(server.url) as proxy:
            print(
                f"soak: {args.minutes:g} min, {args.concurrency} calls in flight, seed "
                f"{args.seed}, fault rate {args.fault_rate:g}; client timeout "
                f"connect/read/write {args.timeout:g} s, max_retries 2 (default)\n"
                f"server {server.url} (a process of its own, data in {server.data_dir}), "
                f"proxy {proxy.url}",
                flush=True,
            )
            threads_before = {t.ident for t in threading.enumerate()}
            soak = Soak(args, server, proxy, scratch)
            with warnings.catch_warnings():
                warnings.simplefilter("always", ResourceWarning)
                shown = warnings.showwarning
                warnings.showwarning = lambda message, *rest: soak.resource_warning(str(message))
                try:
                    leaks = asyncio.run(soak.run())
                    gc.collect()
                finally:
                    warnings.showwarning = shown
            left = [t.name for t in threading.enumerate() if t.ident not in threads_before]
            leaks = attrs.evolve(
                leaks,
                threads=len(left),
                unclosed=sum(soak.loop_errors.values()) + sum(soak.resource_warnings.values()),
            )
            if left:
                soak.findings.note(f"threads left: {left}")
            return report(soak, leaks, client_log, tally)


if __name__ == "__main__":
    sys.exit(main())
