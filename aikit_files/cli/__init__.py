"""The ``aikit-files`` command line: the Files API over the public client, the local server
(``serve``), and a tour of both (``demo``).

Every error is one line on stderr (exit status 1; 2 for a usage error), never a traceback; an
interrupt exits 130 quietly. The server and rich are imported only by the commands that use them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ._arguments import API_KEY_VARIABLE, build_parser, check
from ._errors import describe, one_line, where

__all__ = ["API_KEY_VARIABLE", "main"]

#: The exit status of an interrupted command (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line.

    Args:
        argv: The arguments, without the program name; None reads ``sys.argv``.

    Returns:
        The exit status: 0, 1 for an error, 2 for a usage error, 130 when interrupted.
    """
    try:
        args = build_parser().parse_args(argv)
        check(args)
    except SystemExit as done:  # --help, --version, or a usage error (already printed)
        return done.code if isinstance(done.code, int) else 0 if done.code is None else 2
    try:
        status: int = args.run(args)
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        # NOTE: the reader of stdout went away (``| head``): nothing is left to say, and
        # Python's own flush at exit must not fail again on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as error:
        secrets = (
            getattr(args, "api_key", None),
            getattr(args, "server_api_key", None),
            *(os.environ.get(name) for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY")),
            os.environ.get(API_KEY_VARIABLE),
        )
        line = one_line(describe(error, where(args)), secrets)
        print(f"aikit-files: {line}", file=sys.stderr, flush=True)
        return 1
    return status
