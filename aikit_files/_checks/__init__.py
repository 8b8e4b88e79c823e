"""``check_file``: the API's format rules for a file's purpose, applied before it is uploaded.

The file is read once, line by line, never more than one line (at most ``JSONL_LINE_LIMIT``
bytes) at a time; the rules themselves (``jsonl``, ``batch``, ``fine_tune``) are fed lines and
do no I/O.
"""

from __future__ import annotations

import io
import os
import pathlib
from collections.abc import Iterator
from typing import IO, Final

from aikit_files._exceptions import InvalidArgumentError, InvalidArgumentTypeError
from aikit_files._limits import JSONL_LINE_LIMIT, human_size
from aikit_files._models import FileCheck

from ._problems import Problems
from .batch import BatchRules
from .fine_tune import FineTuneRules
from .jsonl import JSONL_NAMED_PURPOSES, JSONL_PURPOSES, parse_line

__all__ = ["JSONL_PURPOSES", "check_file"]

#: The reads that skip the rest of an overlong line.
_SKIP: Final = 1024 * 1024


def _lines(stream: IO[bytes], limit: int) -> Iterator[tuple[bytes, int]]:
    """Each line of ``stream`` with its length in bytes; a line over ``limit`` bytes comes as
    ``b""`` with its full length, its bytes skipped, never held whole."""
    readline = stream.readline
    while line := readline(limit + 1):
        if len(line) <= limit or line.endswith(b"\n"):
            yield line, len(line)
            continue
        length = len(line)
        while not line.endswith(b"\n") and (line := readline(_SKIP)):
            length += len(line)
        yield b"", length


def _check_stream(
    stream: IO[bytes], purpose: str, filename: str | None, line_limit: int
) -> FileCheck:
    problems = Problems()
    named = filename is not None and purpose in JSONL_NAMED_PURPOSES
    if named and not str(filename).lower().endswith(".jsonl"):
        problems.add(None, None, f"a {purpose} file must be named *.jsonl, not {filename!r}")
    batch = BatchRules(problems) if purpose == "batch" else None
    fine_tune = FineTuneRules(problems) if purpose == "fine-tune" else None
    rules = batch or fine_tune
    size = 0
    number = 0
    for number, (line, length) in enumerate(_lines(stream, line_limit), 1):
        size += length
        if length > line_limit:
            problems.add(
                number, None, f"the line is {human_size(length)}, over {human_size(line_limit)}"
            )
            continue
        record = parse_line(number, line, problems)
        if record is not None and rules is not None:
            rules.line(number, record)
    if number == 0:
        problems.add(None, None, "the file is empty: it must hold one JSON object a line")
    if batch is not None:
        batch.finish(size)
    if fine_tune is not None:
        fine_tune.finish()
    return FileCheck(
        ok=problems.count == 0,
        purpose=purpose,
        problems=problems.kept,
        problem_count=problems.count,
        lines=number,
        bytes=size,
        format=fine_tune.format if fine_tune else None,
        examples=fine_tune.examples if fine_tune else None,
        endpoint=batch.endpoint if batch else None,
        requests=batch.requests if batch else None,
    )


def check_file(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview,
    purpose: str,
    *,
    filename: str | None = None,
) -> FileCheck:
    """Checks a file against the API's format rules for ``purpose``, before it is uploaded.

    ``batch`` and ``fine-tune`` files get the whole of their rules (the Batch API's request
    lines; the fine-tuning formats: chat, preference, reinforcement, completion); ``evals``
    files the rules of any JSON Lines file (UTF-8, one JSON object a line, no blank line, no
    line over 16 MiB). A file of any other purpose has no format rules here: its check only
    counts its bytes. The file is read once, streaming, in constant memory.

    Args:
        source: a path, or the file's bytes.
        purpose: the purpose it will be uploaded with.
        filename: the name it will be uploaded under (by default a path's own name); a batch
            or fine-tune file must be named ``*.jsonl``.

    Returns:
        The ``FileCheck``: ``ok``, the first 100 ``problems`` and their ``problem_count``, and
        what was found (``lines``, ``bytes``; ``endpoint`` and ``requests`` for a batch;
        ``format`` and ``examples`` for fine-tuning).

    Raises:
        InvalidArgumentError: the purpose is empty, or the path is missing, a directory or
            unreadable (an ``InvalidArgumentTypeError`` for a source of another type).
    """
    if not isinstance(purpose, str):
        raise InvalidArgumentTypeError(f"purpose must be a string, not {type(purpose).__name__}")
    if not purpose:
        raise InvalidArgumentError("purpose must not be empty")
    if filename is not None and not isinstance(filename, str):
        raise InvalidArgumentTypeError(f"filename must be a string, not {type(filename).__name__}")
    if isinstance(source, bytes | bytearray | memoryview):
        data = memoryview(source).cast("B")
        if purpose not in JSONL_PURPOSES:
            return _unchecked(purpose, data.nbytes)
        with io.BytesIO(data) as blob:
            return _check_stream(blob, purpose, filename, JSONL_LINE_LIMIT)
    if not isinstance(source, str | os.PathLike):
        raise InvalidArgumentTypeError(
            f"source must be a path or bytes, not {type(source).__name__}"
        )
    path = pathlib.Path(source)
    try:
        stream = path.open("rb")
    except FileNotFoundError:
        raise InvalidArgumentError(f"no such file: {str(path)!r}") from None
    except IsADirectoryError:
        raise InvalidArgumentError(f"{str(path)!r} is a directory, not a file") from None
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    with stream:
        if purpose not in JSONL_PURPOSES:
            return _unchecked(purpose, os.fstat(stream.fileno()).st_size)
        return _check_stream(
            stream, purpose, path.name if filename is None else filename, JSONL_LINE_LIMIT
        )


def _unchecked(purpose: str, size: int) -> FileCheck:
    """The check of a file whose purpose has no format rules: its size only."""
    return FileCheck(ok=True, purpose=purpose, problems=[], problem_count=0, lines=None, bytes=size)
