"""``aikit-files check PATH... --purpose P``: the API's format rules, applied before an upload.

Problems print as compilers and linters print them, ``PATH:LINE: field: message``, then a
one-line summary per file; ``--json`` prints one ``FileCheck`` a line (JSON Lines). The status is
1 when a file has problems or cannot be read, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys

import aikit_files as af
from aikit_files._limits import human_size
from aikit_files._serde import unstructure


def _count(number: int, noun: str) -> str:
    """``1 line``, ``2,048 lines``."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _summary(path: str, check: af.FileCheck) -> str:
    """One line on what the check found in the file at ``path``."""
    found = [_count(check.lines, "line") if check.lines is not None else human_size(check.bytes)]
    if check.requests is not None:
        found.append(f"{_count(check.requests, 'request')} to {check.endpoint or '?'}")
    if check.examples is not None:
        found.append(_count(check.examples, f"{check.format or 'unrecognised'} example"))
    verdict = "ok" if check.ok else _count(check.problem_count, "problem")
    return f"{path}: {verdict} ({', '.join(found)})"


def _problem(path: str, problem: af.FileProblem) -> str:
    where = path if problem.line is None else f"{path}:{problem.line}"
    field = f"{problem.field}: " if problem.field else ""
    return f"{where}: {field}{problem.message}"


def check(args: argparse.Namespace) -> int:
    """Checks each path for ``--purpose``; exit status 1 if any has a problem."""
    failed = False
    for path in args.paths:
        try:
            result = af.check_file(path, args.purpose)
        except af.InvalidArgumentError as error:
            print(f"aikit-files: {error}", file=sys.stderr, flush=True)
            failed = True
            continue
        failed = failed or not result.ok
        if args.json:
            print(json.dumps({"path": path, **unstructure(result)}), flush=True)
            continue
        # NOTE: --quiet keeps the problems (what a script acts on) and leaves out the rest.
        for problem in result.problems:
            print(_problem(path, problem))
        hidden = result.problem_count - len(result.problems)
        if hidden and not args.quiet:
            print(f"{path}: ... and {hidden:,} more problems")
        if not args.quiet:
            print(_summary(path, result), flush=True)
    return 1 if failed else 0
