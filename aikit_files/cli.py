"""The ``aikit-files`` command line: one subcommand per operation (for now, ``serve``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from typing import Any, Final

from ._limits import MAX_STORAGE

#: Where ``serve`` finds its key when ``--api-key`` is not given.
API_KEY_VARIABLE: Final = "AIKIT_FILES_API_KEY"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aikit-files", description="The OpenAI (and Azure OpenAI) Files API, from Python."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the local Files API server",
        description="Serve the Files API locally: OpenAI routes under /v1, Azure under /openai.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks one")
    serve.add_argument(
        "--data-dir",
        help="where files and metadata are kept (default: a temporary directory, removed on exit)",
    )
    serve.add_argument(
        "--api-key",
        help=f"the only key accepted (default: ${API_KEY_VARIABLE}, else any non-empty key)",
    )
    serve.add_argument(
        "--idle-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="close a connection that sends nothing for this long (60)",
    )
    serve.add_argument(
        "--allow-private-import",
        action="store_true",
        help="let files/import fetch from loopback, private and link-local addresses",
    )
    serve.add_argument(
        "--max-storage",
        type=int,
        default=MAX_STORAGE,
        metavar="BYTES",
        help=f"the total size of the files stored ({MAX_STORAGE}, 1 TiB)",
    )
    serve.add_argument("--access-log", action="store_true", help="print one line per request")
    serve.set_defaults(run=_serve)
    return parser


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _serve_until_signalled(args: argparse.Namespace, data_dir: str, temporary: bool) -> None:
    from .server import create_app
    from .server._connections import FilesRunner
    from .server._runner import serving

    app = create_app(
        data_dir,
        api_key=args.api_key or os.environ.get(API_KEY_VARIABLE) or None,
        idle_timeout=args.idle_timeout,
        allow_private_import=args.allow_private_import,
        max_storage=args.max_storage,
    )
    options: dict[str, Any] = {}
    if args.access_log:
        access = logging.getLogger("aikit_files.access")
        access.setLevel(logging.INFO)
        access.propagate = False
        handler = logging.StreamHandler(sys.stdout)
        access.addHandler(handler)
        options = {"access_log": access, "access_log_format": '%a "%r" %s %b %Tfs'}
    async with serving(app, args.host, args.port, runner_class=FilesRunner, **options) as (
        host,
        port,
    ):
        url = _url(host, port)
        where = f"a temporary directory, removed on exit: {data_dir}" if temporary else data_dir
        # NOTE: scripts (and the benchmark) read this first line to learn the port.
        print(f"aikit-files: serving {url} (data in {where})", flush=True)
        print(f"  OPENAI_BASE_URL={url}/v1", flush=True)
        print(f"  AZURE_OPENAI_ENDPOINT={url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()


def _serve(args: argparse.Namespace) -> int:
    if args.data_dir is not None:
        asyncio.run(_serve_until_signalled(args, args.data_dir, temporary=False))
        return 0
    with tempfile.TemporaryDirectory(prefix="aikit-files-") as data_dir:
        asyncio.run(_serve_until_signalled(args, data_dir, temporary=True))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line.

    Args:
        argv: The arguments, without the program name; None reads ``sys.argv``.

    Returns:
        The exit status.
    """
    args = _parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except OSError as error:
        print(f"aikit-files: {error}", file=sys.stderr)
        return 1
    return status
