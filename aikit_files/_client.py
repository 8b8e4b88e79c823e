"""AsyncClient: configuration, the aiohttp session, and a shutdown that drops no call."""

from __future__ import annotations

from types import TracebackType
from typing import Unpack

import aiohttp

from ._calls import CallTracker
from ._config import ClientConfig, ClientOptions
from ._exceptions import InvalidArgumentError, InvalidArgumentTypeError
from ._files import AsyncFilesAPI
from ._protocol.requests import Endpoint
from ._recovery import Recovery
from ._transport import Transport
from ._uploads import AsyncUploadsAPI


class AsyncClient:
    """The asynchronous client of the Files API, for OpenAI or Azure OpenAI.

    Arguments left out are read from the environment as openai-python reads them:
    ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``; for Azure
    ``AZURE_OPENAI_API_KEY``, ``AZURE_OPENAI_ENDPOINT`` and ``OPENAI_API_VERSION``.

    Use it as ``async with af.AsyncClient() as client:``, or call ``await client.aclose()``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        """Configures the client; nothing is connected until the first call.

        Args:
            api_key: the API key (``Authorization: Bearer`` for OpenAI, ``api-key`` for Azure).
            session: an ``aiohttp.ClientSession`` to use; it stays open after ``aclose``.
            **options: ``base_url`` (for OpenAI the API root with its ``/v1``; for Azure the
                resource endpoint), ``organization`` (``OpenAI-Organization``), ``project``
                (``OpenAI-Project``), ``provider`` (``"openai"`` or ``"azure"``),
                ``api_version`` (Azure's; ``2024-10-21`` by default), ``timeout`` (seconds
                for connect, read and write alike, or an ``af.Timeout``; 600 by default),
                ``max_retries`` (2 by default): see ``ClientOptions``.

        Raises:
            InvalidArgumentError: an argument is malformed, or no API key is given or set.
        """
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise InvalidArgumentTypeError(
                f"session must be an aiohttp.ClientSession, not {type(session).__name__}"
            )
        self._config = ClientConfig.resolve(api_key, **options)
        if not self._config.api_key:
            variable = (
                "AZURE_OPENAI_API_KEY" if self._config.provider == "azure" else "OPENAI_API_KEY"
            )
            raise InvalidArgumentError(f"no API key: pass api_key= or set {variable}")
        self._transport = Transport(self._config, session)
        self._tracker = CallTracker(self._transport.total)
        endpoint = Endpoint(self._config)
        self.uploads = AsyncUploadsAPI(self._transport, endpoint, self._tracker)
        """The Uploads API (``create``, ``add_part``, ``complete``, ``cancel``)."""
        recovery = Recovery(self._transport, endpoint)
        self.files = AsyncFilesAPI(self._transport, endpoint, self._tracker, recovery)
        """The Files API."""

    def __repr__(self) -> str:
        return (
            f"AsyncClient(provider={self._config.provider!r}, base_url={self._config.base_url!r})"
        )

    async def aclose(self, *, cancel: bool = False) -> None:
        """Waits for the calls in flight and their callbacks, then releases the session.

        No call can start once this is called. A borrowed session is left open.

        Args:
            cancel: cancel the calls in flight instead of waiting for them to finish; their
                callbacks still run, with ``cancelled`` set.
        """
        await self._tracker.aclose(cancel=cancel)
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
