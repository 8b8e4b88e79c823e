"""``aikit-files serve``: the local Files API server, until SIGINT or SIGTERM.

It prints the address it bound and ready-to-paste ``export`` lines; with ``--env`` stdout
carries only those lines, so that a script can source them, and everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import shlex
import signal
import socket
import sys
import tempfile
import time
from typing import Any, TextIO

from ._arguments import API_KEY_VARIABLE
from ._errors import Failure

#: The key printed in the export lines when the server takes any key (none was set).
ANY_KEY = "sk-local"


class _Timestamped(logging.Formatter):
    """Access-log lines that start with the time, to the millisecond, in UTC."""

    def format(self, record: logging.LogRecord) -> str:
        moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{moment}.{int(record.msecs):03d}Z {record.getMessage()}"


def export_lines(url: str, key: str) -> list[str]:
    """The shell lines that point the clients (and openai-python) at the server at ``url``."""
    return [
        f"export OPENAI_BASE_URL={shlex.quote(url + '/v1')} OPENAI_API_KEY={shlex.quote(key)}",
        f"export AZURE_OPENAI_ENDPOINT={shlex.quote(url)} AZURE_OPENAI_API_KEY={shlex.quote(key)}",
    ]


def _listen_error(error: OSError, host: str, port: int) -> Failure:
    """A failure to listen, as one line naming the flag and the fix."""
    if isinstance(error, socket.gaierror):
        return Failure(
            f"--host {host}: no such address ({error.strerror}): give an address of this "
            "machine, such as 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)"
        )
    if error.errno == errno.EADDRINUSE:
        return Failure(
            f"--port {port} is in use on {host}: pick another, or --port 0 for a free one"
        )
    if error.errno in (errno.EACCES, errno.EPERM):
        return Failure(
            f"--port {port} needs privileges on {host}: pick one over 1023, or --port 0 for "
            "a free one"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return Failure(
            f"--host {host} is not an address of this machine: give one of its own, such as "
            "127.0.0.1 or 0.0.0.0"
        )
    return Failure(f"cannot listen on --host {host} --port {port}: {error.strerror or error}")


def _check_data_dir(path: str) -> None:
    """Refuses a ``--data-dir`` the server could not keep files in, before it starts."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise Failure(f"--data-dir {path} is not a directory: name a directory (or a new path)")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise Failure(
            f"--data-dir {path}: cannot create it ({error.strerror or error}): name a "
            "directory you can write to"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise Failure(f"--data-dir {path} is not writable: name a directory you can write to")


async def _serve_until_signalled(
    args: argparse.Namespace, data_dir: str, temporary: bool, info: TextIO
) -> None:
    # NOTE: the server is imported here, by the one command that needs it (and the demo).
    from aikit_files.server import create_app
    from aikit_files.server._connections import FilesRunner
    from aikit_files.server._runner import root_url, serving

    # NOTE: the signals are caught before the banner says the server is ready: a script
    # that stops it as soon as it reads the banner gets "stopped", not an interrupt.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    options: dict[str, Any] = {}
    if args.max_storage is not None:
        options["max_storage"] = args.max_storage
    key = args.server_api_key or args.api_key or os.environ.get(API_KEY_VARIABLE) or None
    app = create_app(
        data_dir,
        api_key=key,
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
        handler = logging.StreamHandler(info)
        handler.setFormatter(_Timestamped())
        access.addHandler(handler)
        runner_options = {"access_log": access, "access_log_format": '%a "%r" %s %b %Tfs'}
    listening = False
    try:
        async with serving(
            app, args.host, args.port, runner_class=FilesRunner, **runner_options
        ) as (host, port):
            listening = True
            url = root_url(host, port)
            where = f"a temporary directory, removed on exit: {data_dir}" if temporary else data_dir
            # NOTE: scripts (and the benchmark) read this first line to learn the port.
            print(f"aikit-files: serving {url} (data in {where})", file=info, flush=True)
            for line in export_lines(url, key or ANY_KEY):
                print(line if args.env else f"  {line}", flush=True)
            await stop.wait()
    except OSError as error:
        if listening:
            raise
        raise _listen_error(error, args.host, args.port) from None
    # NOTE: on a terminal the echoed ^C ends no line: "stopped" starts its own.
    start = "\n" if info.isatty() else ""
    print(f"{start}aikit-files: stopped", file=info, flush=True)


def serve(args: argparse.Namespace) -> int:
    """Serves until SIGINT or SIGTERM; a temporary data directory is removed on exit."""
    info = sys.stderr if args.env else sys.stdout
    if args.data_dir is not None:
        _check_data_dir(args.data_dir)
        asyncio.run(_serve_until_signalled(args, args.data_dir, False, info))
        return 0
    with tempfile.TemporaryDirectory(prefix="aikit-files-") as data_dir:
        asyncio.run(_serve_until_signalled(args, data_dir, True, info))
    return 0
