"""``ServerThread``: the local Files API server on loopback, in a background thread."""

from __future__ import annotations

import os
from typing import Any

from ._app import create_app
from ._connections import FilesRunner
from ._runner import AppThread


class ServerThread(AppThread):
    """Runs the local Files API server in a background thread, for tests and scripts.

    ::

        with ServerThread(tmp_path, api_key="sk-test") as server:
            client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test")

    Args:
        data_dir: Where the server keeps its files.
        api_key: The only key accepted; None accepts any non-empty key.
        host: The address to listen on.
        port: The port to listen on; 0 picks a free one, kept across restarts (see ``port``).
        **app_options: Further options of ``create_app``.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        **app_options: Any,
    ):
        super().__init__(
            lambda: create_app(data_dir, api_key=api_key, **app_options),
            host=host,
            port=port,
            name="aikit-files-server",
            runner_class=FilesRunner,
        )
        self.data_dir = data_dir
        #: The key the server accepts (None: any non-empty key).
        self.api_key = api_key

    @property
    def openai_base_url(self) -> str:
        """The ``base_url`` of an OpenAI client: the root URL with ``/v1``."""
        return f"{self.url}/v1"

    @property
    def azure_endpoint(self) -> str:
        """The ``azure_endpoint`` of an Azure client: the root URL."""
        return self.url
