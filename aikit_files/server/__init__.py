"""The local Files API server: OpenAI routes under ``/v1``, Azure routes under ``/openai``.

``create_app`` builds the ``aiohttp.web.Application``; ``ServerThread`` runs it on loopback in a
background thread (for tests); ``aikit-files serve`` runs it from the command line.
"""

from __future__ import annotations

from ._app import create_app
from ._thread import ServerThread

__all__ = ["ServerThread", "create_app"]
