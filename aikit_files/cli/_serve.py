"""``aikit-files serve``: the local Files API server, until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
from typing import Any

from ._arguments import API_KEY_VARIABLE


async def _serve_until_signalled(args: argparse.Namespace, data_dir: str, temporary: bool) -> None:
    # NOTE: the server is imported here, by the one command that needs it (and the demo).
    from aikit_files.server import create_app
    from aikit_files.server._connections import FilesRunner
    from aikit_files.server._runner import root_url, serving

    options: dict[str, Any] = {}
    if args.max_storage is not None:
        options["max_storage"] = args.max_storage
    app = create_app(
        data_dir,
        api_key=args.server_api_key or args.api_key or os.environ.get(API_KEY_VARIABLE) or None,
        idle_timeout=args.idle_timeout,
        import_timeout=args.import_timeout,
        allow_private_import=args.allow_private_import,
        **options,
    )
    runner_options: dict[str, Any] = {}
    if args.access_log:
        access = logging.getLogger("aikit_files.access")
        access.setLevel(logging.INFO)
        access.propagate = False
        handler = logging.StreamHandler(sys.stdout)
        access.addHandler(handler)
        runner_options = {"access_log": access, "access_log_format": '%a "%r" %s %b %Tfs'}
    async with serving(app, args.host, args.port, runner_class=FilesRunner, **runner_options) as (
        host,
        port,
    ):
        url = root_url(host, port)
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


def serve(args: argparse.Namespace) -> int:
    """Serves until SIGINT or SIGTERM; a temporary data directory is removed on exit."""
    if args.data_dir is not None:
        asyncio.run(_serve_until_signalled(args, args.data_dir, temporary=False))
        return 0
    with tempfile.TemporaryDirectory(prefix="aikit-files-") as data_dir:
        asyncio.run(_serve_until_signalled(args, data_dir, temporary=True))
    return 0
