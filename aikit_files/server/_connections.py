"""The server's connections: aiohttp's own refusals (a malformed request line, a header too long)
answered with the API's error body instead of aiohttp's plain text.

aiohttp answers a request it cannot parse from its protocol handler (``RequestHandler``), before
any application code runs: no middleware sees it, and no ``on_response_prepare`` signal fires
(the request was never routed). Its one documented place for those answers is
``RequestHandler.handle_error``, so ``FilesRunner`` serves the application with a
``RequestHandler`` that overrides it. The body is OpenAI's envelope: a request that could not be
parsed has no path that would tell its flavour.

``FilesRunner`` sets up as aiohttp's runner does, then gives the server it made (public
``AppRunner.server``) our class, whose connections are ours (see ``_aiohttp_compat``).
"""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web

from ._aiohttp_compat import adopt, connection
from ._errors import ApiError
from ._flavours import OPENAI
from ._ids import new_request_id

log = logging.getLogger("aikit_files.server")

_MESSAGES: Final = {
    400: "The request is not well-formed HTTP",
    413: "The request is too large",
    431: "The request's header fields are too large",
    500: "The server had an error while processing your request",
    504: "The server timed out while processing your request",
}


class _Connection(web.RequestHandler):
    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's own handling logs the error, and raises if an answer is already under way.
        super().handle_error(request, status, exc, message)
        # NOTE: aiohttp's message may quote the offending bytes (a header, perhaps a key): it is
        # not repeated, only the kind of error.
        text = _MESSAGES.get(status, "The request could not be served")
        if exc is not None and status < 500:
            text += f" ({type(exc).__name__})"
        response = web.json_response(OPENAI.error_body(ApiError(status, text + ".")), status=status)
        response.headers["x-request-id"] = new_request_id()
        response.force_close()
        return response


class _Server(web.Server):
    # NOTE: methods only, no state: a server aiohttp made takes this class (``adopt``).
    def __call__(self) -> web.RequestHandler:
        return connection(self, _Connection)


class FilesRunner(web.AppRunner):
    """An ``AppRunner`` whose connections answer malformed HTTP with the API's error body."""

    async def setup(self) -> None:
        """Sets up as ``web.AppRunner`` does; the server it made then makes our connections."""
        await super().setup()
        server = self.server
        if server is not None and adopt(server, _Server) is None:
            log.debug("aiohttp's server cannot take our class: its own answers stay")
