"""The plan of a large upload, pure: whether a file goes in Parts, their byte ranges, how many
in flight, and what to do after each refusal of the server.

``LargeUpload`` (``aikit_files._large_upload``) carries the plan out and decides nothing on its
own: each choice it makes after an answer is one of ``after_refusal``'s.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Final

import attrs

from aikit_files._exceptions import InvalidArgumentError
from aikit_files._limits import SIMPLE_UPLOAD_LIMIT, UPLOAD_PART_LIMIT
from aikit_files._models import ExpiresAfter

#: Bytes per Part when the caller sets no ``part_size``: the Part limit of OpenAI.
DEFAULT_PART_SIZE: Final = UPLOAD_PART_LIMIT
#: Parts in flight at once when the caller sets no ``max_concurrency``.
DEFAULT_MAX_CONCURRENCY: Final = 4
#: The most Parts one upload is cut into (S3's limit too): a smaller part_size is a mistake.
MAX_PARTS: Final = 10_000
#: How long cancelling an abandoned Upload (or deleting what a cancelled call made) may take.
CANCEL_TIMEOUT: Final = 10.0
#: How long a cancelled call waits for the answer to the ``complete`` it had in flight, to
#: delete the file it may make (the server copies every Part into the file before answering).
COMPLETE_WAIT: Final = 60.0


@attrs.frozen
class PartSpan:
    """One Part of an upload: ``length`` bytes of the source from ``offset``."""

    number: int
    """The Part's place in the file, from 0: the order of ``part_ids`` on complete."""
    offset: int
    length: int


def goes_in_parts(size: int | None, upload_threshold: int | None) -> bool:
    """Whether a source of ``size`` bytes (None: unknown) goes through the Uploads API.

    A threshold above the simple-upload limit (512 MiB) is clamped to it: ``POST /files``
    takes no more, whatever the caller asked.
    """
    if size is None:
        # NOTE: a stream of unknown size cannot be cut into Parts announced up front.
        return False
    threshold = SIMPLE_UPLOAD_LIMIT if upload_threshold is None else upload_threshold
    return size > min(threshold, SIMPLE_UPLOAD_LIMIT)


def plan_parts(size: int, part_size: int) -> tuple[PartSpan, ...]:
    """Cuts ``size`` bytes into Parts of ``part_size`` bytes (the last one shorter), in order.

    ``part_size`` was checked with the call's parameters (1 to the Part limit); what is checked
    here is what only the file's size tells.

    Raises:
        InvalidArgumentError: a size below 1, or a part size so small that the file would take
            more than ``MAX_PARTS`` Parts.
    """
    if size < 1:
        raise InvalidArgumentError(f"a large upload holds at least one byte, not {size}")
    count = -(-size // part_size)
    if count > MAX_PARTS:
        raise InvalidArgumentError(
            f"part_size {part_size} would cut {size} bytes into {count} Parts, more than "
            f"{MAX_PARTS}: use Parts of at least {-(-size // MAX_PARTS)} bytes"
        )
    return tuple(
        PartSpan(number, offset, min(part_size, size - offset))
        for number, offset in enumerate(range(0, size, part_size))
    )


@attrs.frozen
class UploadPlan:
    """What a large upload will send: its Parts, and how many at once."""

    size: int
    """The source's size."""
    part_size: int
    parts: tuple[PartSpan, ...]
    concurrency: int
    """Parts in flight at once."""

    def missing(self, done: frozenset[int]) -> tuple[PartSpan, ...]:
        """The Parts not among ``done`` (their numbers), in order."""
        return tuple(span for span in self.parts if span.number not in done)

    def bytes_of(self, done: frozenset[int]) -> int:
        """The bytes the Parts ``done`` hold."""
        return sum(span.length for span in self.parts if span.number in done)


def plan_upload(
    size: int, part_size: int | None, max_concurrency: int | None, *, one_reader: bool
) -> UploadPlan:
    """The plan of a large upload of ``size`` bytes, from the caller's settings (checked).

    Args:
        size: the source's size.
        part_size: the caller's ``part_size``; None: ``DEFAULT_PART_SIZE``.
        max_concurrency: the caller's ``max_concurrency``; None: ``DEFAULT_MAX_CONCURRENCY``.
        one_reader: the source is one file object, with one position: its Parts are read one
            after another.

    Raises:
        InvalidArgumentError: a plan that cannot be (see ``plan_parts``).
    """
    part_size = part_size or DEFAULT_PART_SIZE
    parts = plan_parts(size, part_size)
    concurrency = 1 if one_reader else max_concurrency or DEFAULT_MAX_CONCURRENCY
    return UploadPlan(size, part_size, parts, max(1, min(concurrency, len(parts))))


@attrs.define
class PartsProgress:
    """The bytes sent across all Parts, told to ``tell(sent, total)`` as they change."""

    tell: Callable[[int, int], None]
    total: int
    done: int = 0
    """Bytes of the Parts already acknowledged."""
    sending: dict[int, int] = attrs.Factory(dict)
    """Bytes sent so far of each Part in flight (a retried Part starts again from 0)."""

    def report(self) -> None:
        """Tells the bytes sent so far."""
        self.tell(self.done + sum(self.sending.values()), self.total)

    def of_part(self, number: int) -> Callable[[int, int | None], None]:
        """The ``on_progress`` of one Part's request."""

        def report(sent: int, _total: int | None) -> None:
            self.sending[number] = sent
            self.report()

        return report

    def part_done(self, number: int, length: int) -> None:
        """Counts a Part the server acknowledged."""
        self.sending.pop(number, None)
        self.done += length
        self.report()


def check_expiry_allowed(provider: str, expires_after: ExpiresAfter | None) -> None:
    """Refuses an ``expires_after`` for an Upload on Azure, whose Uploads API takes none.

    Raises:
        InvalidArgumentError: it is there, on Azure.
    """
    if expires_after is not None and provider == "azure":
        raise InvalidArgumentError(
            "Azure's Uploads API takes no expires_after (a file larger than "
            "upload_threshold goes through it): leave it out, or upload a smaller file"
        )


class Step(enum.Enum):
    """What a large upload sends when the server refuses it."""

    PART = "part"
    COMPLETE = "complete"


class Next(enum.Enum):
    """What a large upload does after a refusal."""

    FAIL = "fail"
    """The call fails with the server's error."""
    START_OVER = "start over"
    """The Upload is of no use: cancel it, and send the whole file to a new one."""
    LOOK_THEN_START_OVER = "look, then start over"
    """The Upload may have made the file (an earlier run completed it): return the file if
    the server has it; otherwise start over."""
    LOOK_THEN_FAIL = "look, then fail"
    """The Upload may have made the file (an attempt whose answer was lost completed it):
    return the file if the server has it; otherwise the call fails."""


def after_refusal(
    step: Step, status: int, param: str | None, *, resumed: bool, started_over: bool
) -> Next:
    """What to do when the server refuses a Part or the ``complete`` of a large upload.

    An Upload taken up from a journal can be stale: refused with 400 or 404 (cancelled,
    expired, completed by an earlier run, forgotten by a restarted server, or holding Parts of
    a source since rewritten in place), the journal is of no use and the upload starts over,
    once (a second refusal is the call's error: no loop), after looking for the file an
    earlier run may have made. An Upload this run created is fresh: a refused Part is the
    call's error, and a refused ``complete`` too, unless the file turns up (an attempt whose
    answer was lost made it).

    Args:
        step: what was refused.
        status: the HTTP status of the refusal.
        param: the ``param`` of the server's error, if any (``md5``: the Parts differ from
            the source's MD5, so no file was made).
        resumed: the Upload came from a journal of an earlier run.
        started_over: this run already started over once (its Upload is fresh).
    """
    if status not in (400, 404):
        return Next.FAIL
    md5_mismatch = step is Step.COMPLETE and param == "md5"
    if resumed and not started_over:
        # NOTE: an MD5 mismatch means the source was rewritten with the same size and mtime:
        # no file was made, so none is looked for.
        return Next.START_OVER if md5_mismatch else Next.LOOK_THEN_START_OVER
    if step is Step.COMPLETE and not md5_mismatch:
        return Next.LOOK_THEN_FAIL
    return Next.FAIL
