"""The command line's grammar: the global options, one subcommand per operation, and usage errors
on one line (exit status 2)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any, NoReturn

from aikit_files._limits import (
    EXPIRES_AFTER_MAX,
    EXPIRES_AFTER_MIN,
    LIST_LIMIT_MAX,
    LIST_LIMIT_MIN,
    UPLOAD_PART_LIMIT,
)

from ._units import (
    DURATION_HELP,
    SIZE_HELP,
    duration_between,
    parse_duration,
    parse_size,
    size_up_to,
)

#: Where ``serve`` finds its key when ``--api-key`` is not given.
API_KEY_VARIABLE = "AIKIT_FILES_API_KEY"
#: The default size of the demo's fine-tune file, in MB.
DEMO_SIZE_MB = 64.0

#: A command: takes the parsed arguments, returns the exit status.
Command = Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _lazy(module: str, function: str) -> Command:
    """The command ``function`` of ``module`` (in this package), imported only when it runs:
    ``aikit-files list`` never loads the server, nor ``serve`` the progress bars."""

    def run(args: argparse.Namespace) -> int:
        command: Command = getattr(importlib.import_module(f"{__package__}.{module}"), function)
        return command(args)

    return run


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _positive_int(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _int_between(low: int, high: int) -> Callable[[str], int]:
    """An argument type: an integer from ``low`` to ``high``."""

    def parse(text: str) -> int:
        value = _integer(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value

    return parse


def _port(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"must be from 0 to 65535, got {value} (--port 0 picks a free one)"
        )
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _add_client_options(parser: argparse.ArgumentParser, *, repeated: bool) -> None:
    """The options that say which API to call and how to print: before the command, or (when
    ``repeated``) after it too."""
    group = parser.add_argument_group("API and output")

    def option(*flags: str, **settings: Any) -> None:
        if repeated:
            # NOTE: after the command, an option left out must not reset the value given
            # before it; and its help is the main help's, not repeated in each command's.
            settings |= {"default": argparse.SUPPRESS, "help": argparse.SUPPRESS}
        group.add_argument(*flags, **settings)

    option(
        "--api-key",
        metavar="K",
        help="the API key (default: $OPENAI_API_KEY; with --provider azure $AZURE_OPENAI_API_KEY)",
    )
    option(
        "--base-url",
        metavar="URL",
        help="the API root, with /v1 for OpenAI (default: $OPENAI_BASE_URL, else OpenAI's); "
        "Azure's resource endpoint (default: $AZURE_OPENAI_ENDPOINT)",
    )
    option("--provider", choices=("openai", "azure"), help="whose API it is (default: openai)")
    option(
        "--api-version",
        metavar="V",
        help="Azure's API version (default: $OPENAI_API_VERSION, else 2024-10-21)",
    )
    option(
        "--json",
        action="store_true",
        help="print JSON (wire field names) and nothing else on stdout: one document, or one "
        "object a line (JSON Lines) for upload, delete and check",
    )
    option("--quiet", "-q", action="store_true", help="print only the ids of the files")


def build_parser() -> Parser:
    """The parser of the whole command line; each command's ``run`` is in ``args.run``."""
    from aikit_files import __version__

    parser = Parser(
        prog="aikit-files",
        description="The OpenAI (and Azure OpenAI) Files API from the command line, and a local "
        "server of it.",
        epilog="Settings come from the environment as for the clients: OPENAI_API_KEY, "
        "OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_PROJECT_ID; for Azure AZURE_OPENAI_API_KEY, "
        "AZURE_OPENAI_ENDPOINT, OPENAI_API_VERSION.",
    )
    _add_client_options(parser, repeated=False)
    parser.add_argument("--version", action="version", version=f"aikit-files {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, run: Command, *, client: bool = True) -> Parser:
        sub: Parser = commands.add_parser(
            name,
            help=help,
            description=help[0].upper() + help[1:] + ".",
            epilog="The options of 'aikit-files --help' (--json, --quiet, --api-key, "
            "--base-url, --provider, --api-version) may also follow the command."
            if client
            else None,
        )
        if client:
            _add_client_options(sub, repeated=True)
        sub.set_defaults(run=run, usage=sub)
        return sub

    upload = command("upload", "upload files", _lazy("_upload", "upload"))
    upload.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="the files or directories to upload; - reads stdin (--filename)",
    )
    upload.add_argument(
        "--purpose", required=True, help="what the files are for: fine-tune, batch, assistants, ..."
    )
    upload.add_argument(
        "--expires-after",
        type=duration_between(EXPIRES_AFTER_MIN, EXPIRES_AFTER_MAX),
        metavar="DURATION",
        help=f"delete the files this long after their upload, 1h to 30d; {DURATION_HELP}",
    )
    upload.add_argument("--filename", metavar="NAME", help="the name to give the file (one PATH)")
    upload.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help="files in flight at once, and Parts in flight of a file over 512 MiB (4)",
    )
    upload.add_argument(
        "--resume",
        action="store_true",
        help="a file over 512 MiB keeps a journal: run the same command again after an "
        "interruption and only the Parts not yet sent are sent",
    )
    upload.add_argument(
        "--upload-threshold",
        type=parse_size,
        metavar="SIZE",
        help=f"files over this size go through the Uploads API, in Parts (512M); {SIZE_HELP}",
    )
    upload.add_argument(
        "--part-size",
        type=size_up_to(UPLOAD_PART_LIMIT),
        metavar="SIZE",
        help="the size of the Parts of the Uploads API, at most 64M (64M)",
    )

    upload.add_argument(
        "--include",
        action="append",
        metavar="GLOB",
        help="only a directory's files whose path in it matches (repeatable; * also matches /)",
    )
    upload.add_argument(
        "--exclude",
        action="append",
        metavar="GLOB",
        help="leave out a directory's files whose path in it matches (repeatable)",
    )
    upload.add_argument(
        "--hidden",
        action="store_true",
        help="take a directory's hidden files and folders too (a name starting with .)",
    )
    upload.add_argument(
        "--skip-existing",
        action="store_true",
        help="skip a file whose name and size match a file of --purpose already there",
    )
    upload.add_argument(
        "--manifest",
        metavar="FILE",
        help="keep a journal of the batch in FILE: run the same command again (after a crash) "
        "and only what it did not make is sent",
    )
    upload.add_argument(
        "--check",
        action="store_true",
        help="check each file against the API's format rules for --purpose first (as the "
        "check command does); a file with problems is not sent",
    )

    checking = command(
        "check",
        "check files against the API's format rules for a purpose, before any upload",
        _lazy("_check", "check"),
    )
    checking.add_argument("paths", nargs="+", metavar="PATH", help="the files to check")
    checking.add_argument(
        "--purpose", required=True, help="the purpose they are for: batch, fine-tune, evals, ..."
    )

    listing = command("list", "list files, newest first", _lazy("_commands", "list_files"))
    listing.add_argument("--purpose", help="only the files of this purpose")
    listing.add_argument(
        "--limit",
        type=_int_between(LIST_LIMIT_MIN, LIST_LIMIT_MAX),
        metavar="N",
        help="files per page, 1 to 10000 (10000)",
    )
    listing.add_argument("--order", choices=("asc", "desc"), help="by creation time (desc)")
    listing.add_argument("--after", metavar="ID", help="start after this file (a page's last id)")
    listing.add_argument("--all", action="store_true", help="every page, not only the first")

    get = command("get", "print a file's metadata", _lazy("_commands", "get"))
    get.add_argument("id", metavar="ID")

    delete = command("delete", "delete files", _lazy("_commands", "delete"))
    delete.add_argument("ids", nargs="+", metavar="ID")

    content = command(
        "content", "write a file's content to stdout, as it is", _lazy("_commands", "content")
    )
    content.add_argument("id", metavar="ID")
    content.add_argument(
        "--output",
        "-o",
        metavar="DEST",
        help="- writes to stdout even on a terminal (binary content is refused there without "
        "it); a path saves the file there, as 'download'",
    )

    download = command("download", "save a file's content", _lazy("_commands", "download"))
    download.add_argument("id", metavar="ID")
    download.add_argument(
        "destination",
        metavar="DEST",
        help="the path to write; a directory gets the file under its own name; - is stdout",
    )

    wait = command("wait", "wait until the server has processed a file", _lazy("_commands", "wait"))
    wait.add_argument("id", metavar="ID")
    wait.add_argument(
        "--max-wait",
        type=parse_duration,
        metavar="DURATION",
        help=f"give up after this long (30m); {DURATION_HELP}",
    )

    import_url = command(
        "import-url",
        "have Azure fetch a file from a URL (Azure's files/import)",
        _lazy("_commands", "import_url"),
    )
    import_url.add_argument("url", metavar="URL", help="where the server fetches the content")
    import_url.add_argument("--filename", required=True, metavar="NAME")
    import_url.add_argument("--purpose", required=True)

    _add_serve(
        command("serve", "run the local Files API server", _lazy("_serve", "serve"), client=False)
    )

    demo = command(
        "demo",
        "run the whole job against a local server it starts itself",
        _lazy("_demo", "demo"),
        client=False,
    )
    demo.add_argument(
        "--size-mb",
        type=_positive_float,
        default=DEMO_SIZE_MB,
        metavar="MB",
        help=f"the size of the fine-tune file it makes ({DEMO_SIZE_MB:g})",
    )
    return parser


def _add_serve(serve: Parser) -> None:
    serve.description = "Serve the Files API locally: OpenAI routes under /v1, Azure under /openai."
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=8080, help="port to listen on, 0 to 65535; 0 picks a free one"
    )
    serve.add_argument(
        "--data-dir",
        help="where files and metadata are kept (default: a temporary directory, removed on exit)",
    )
    serve.add_argument(
        "--api-key",
        dest="server_api_key",
        help=f"the only key accepted (default: ${API_KEY_VARIABLE}, else any non-empty key)",
    )
    serve.add_argument(
        "--idle-timeout",
        type=parse_duration,
        default=60.0,
        metavar="DURATION",
        help=f"close a connection that sends nothing for this long (60s); {DURATION_HELP}",
    )
    serve.add_argument(
        "--import-timeout",
        type=parse_duration,
        default=300.0,
        metavar="DURATION",
        help=f"the longest a files/import fetch may take in all (5m); {DURATION_HELP}",
    )
    serve.add_argument(
        "--allow-private-import",
        action="store_true",
        help="let files/import fetch from loopback, private and link-local addresses",
    )
    serve.add_argument(
        "--max-storage",
        type=parse_size,
        metavar="SIZE",
        help=f"the most stored files and pending Parts may hold (1T); {SIZE_HELP}",
    )
    serve.add_argument("--access-log", action="store_true", help="print one line per request")
    serve.add_argument(
        "--env",
        action="store_true",
        help="stdout carries only the export lines (everything else goes to stderr), for "
        'eval "$(...)" in a script',
    )


def check(args: argparse.Namespace) -> None:
    """The rules argparse cannot say; a broken one is a usage error (exits 2)."""
    usage: Parser = args.usage
    if args.json and args.quiet:
        usage.error("--json and --quiet cannot be used together")
    if args.command == "upload" and args.filename is not None and len(args.paths) > 1:
        usage.error("--filename names one file: give one PATH with it")
    if args.command == "upload" and "-" in args.paths and args.filename is None:
        usage.error("PATH - reads stdin, which has no name: give the file's with --filename")
