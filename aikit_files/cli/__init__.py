"""The ``aikit-files`` command line: the Files API over the public client, the local server
(``serve``), and a tour of both (``demo``).

Every error is one line on stderr (exit status 1; 2 for a usage error), never a traceback; an
interrupt says in one line what became of the command and exits 130; a closed stdout pipe ends
it quietly with 141, as a shell reports SIGPIPE. The server and rich are imported only by the
commands that use them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from ._arguments import API_KEY_VARIABLE, build_parser, check
from ._errors import describe, one_line, where

__all__ = ["API_KEY_VARIABLE", "main"]

#: The exit status of an interrupted command (128 + SIGINT), as shells report it.
INTERRUPTED = 130
#: The exit status of a command whose stdout pipe was closed (128 + SIGPIPE).
BROKEN_PIPE = 141


def _secrets(args: argparse.Namespace) -> tuple[str | None, ...]:
    return (
        getattr(args, "api_key", None),
        getattr(args, "server_api_key", None),
        *(os.environ.get(name) for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY")),
        os.environ.get(API_KEY_VARIABLE),
    )


class _OneLine(logging.Handler):
    """The library's warnings as the command line's other lines: one line each, the key
    masked, no traceback."""

    def __init__(self, secrets: tuple[str | None, ...]) -> None:
        super().__init__(logging.WARNING)
        self._secrets = secrets

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = one_line(record.getMessage(), self._secrets)
            print(f"aikit-files: warning: {line}", file=sys.stderr, flush=True)
        except Exception:  # a log line must never break the command
            self.handleError(record)


def _broken_pipe(error: BaseException | None) -> bool:
    """Whether ``error`` comes from writing to a closed pipe (it may be wrapped)."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, BrokenPipeError):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line.

    Args:
        argv: The arguments, without the program name; None reads ``sys.argv``.

    Returns:
        The exit status: 0, 1 for an error, 2 for a usage error, 130 when interrupted, 141
        when stdout's reader went away.
    """
    try:
        args = build_parser().parse_args(argv)
        check(args)
    except SystemExit as done:  # --help, --version, or a usage error (already printed)
        return done.code if isinstance(done.code, int) else 0 if done.code is None else 2
    library = logging.getLogger("aikit_files")
    handler = _OneLine(_secrets(args))
    library.addHandler(handler)
    try:
        status: int = args.run(args)
    except KeyboardInterrupt:
        interruption = getattr(args, "interruption", None)
        line = interruption() if interruption is not None else "cancelled"
        # NOTE: on a terminal the echoed ^C ends no line: the message starts its own.
        start = "\n" if sys.stderr.isatty() else ""
        print(f"{start}aikit-files: {one_line(line)}", file=sys.stderr, flush=True)
        return INTERRUPTED
    except Exception as error:
        if not _broken_pipe(error):
            line = one_line(describe(error, where(args)), _secrets(args))
            print(f"aikit-files: {line}", file=sys.stderr, flush=True)
            return 1
        # NOTE: the reader of stdout went away (``| head``): nothing is left to say, and
        # Python's own flush at exit must not fail again on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
    finally:
        library.removeHandler(handler)
    return status
