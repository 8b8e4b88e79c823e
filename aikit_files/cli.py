"""The ``aikit-files`` command line: one subcommand per operation (for now, ``serve``)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence


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
    serve.add_argument("--data-dir", required=True, help="where files and metadata are kept")
    serve.add_argument("--api-key", help="the only key accepted (default: any non-empty key)")
    serve.set_defaults(run=_serve)
    return parser


async def _serve_until_signalled(args: argparse.Namespace) -> None:
    from .server import create_app
    from .server._connections import FilesRunner
    from .server._runner import serving

    app = create_app(args.data_dir, api_key=args.api_key)
    async with serving(app, args.host, args.port, runner_class=FilesRunner) as (host, port):
        # NOTE: scripts (and the benchmark) read this line to learn the port.
        print(f"aikit-files: serving http://{host}:{port} (data in {args.data_dir})", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()


def _serve(args: argparse.Namespace) -> int:
    asyncio.run(_serve_until_signalled(args))
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
