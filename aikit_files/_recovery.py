"""Finding what a request whose answer was lost made: a file, a deletion, a completed Upload, an
import. One ``Recovery`` per client, built by ``AsyncClient`` and handed down to the Files API,
which hands ``find_file`` on to a large upload; it calls nothing above it.

Each ``for_...`` method returns the ``Recover`` that ``Transport.send`` runs after an attempt
that sent its request whole and got no answer (``_protocol.recovery`` decides when); what it
finds becomes the call's reply. Files found are claimed, so that two calls of one client never
return the same file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, Final

from ._exceptions import NotFoundError
from ._io.sinks import json_sink
from ._models import FileDeleted, FileList, OpenAIFile
from ._params import FileListParameters, Parameters, ProgressCallback
from ._protocol.requests import Endpoint
from ._protocol.responses import Reply
from ._transport import Recover, Transport

logger = logging.getLogger("aikit_files")

#: How many files a page of the lookup after a lost answer holds (newest first).
LOOKUP_PAGE: Final = 100
#: Seconds the server's clock may lag ours, for the lookup after a lost answer.
CLOCK_SKEW: Final = 60.0
#: How many files made by its calls a client remembers, so two calls never claim one file.
CLAIMS_KEPT: Final = 10_000

#: Finds the file a request that lost its answer made, if the server has it: (filename, size or
#: None for any, purpose, parameters, since) -> the reply that would have carried it. What a
#: large upload is handed for its ``complete`` (``Recovery.find_file``).
FindFile = Callable[
    [str, "int | None", str, Parameters, float], Coroutine[Any, Any, "Reply[OpenAIFile] | None"]
]

_FILE = json_sink(OpenAIFile)
_FILE_LIST = json_sink(FileList)


class SentBytes:
    """An ``on_progress`` that keeps the count of bytes sent, and passes each report on: the
    size of a stream, known once it was sent, for the lookup after its answer was lost."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self.sent = 0
        self._on_progress = on_progress

    def __call__(self, sent: int, total: int | None) -> None:
        self.sent = sent
        if self._on_progress is not None:
            self._on_progress(sent, total)


class Recovery:
    """The lookups after a lost answer, for one client.

    Args:
        transport: the client's transport, which the lookups' own requests go through.
        endpoint: the client's endpoint (OpenAI's or Azure's paths).
    """

    def __init__(self, transport: Transport, endpoint: Endpoint) -> None:
        self._transport = transport
        self._endpoint = endpoint
        # Files made by this client's calls, oldest first (a dict keeps the order).
        self._claims: dict[str, None] = {}

    def __repr__(self) -> str:
        return f"Recovery({self._endpoint!r})"

    # --- what each operation looks for ----------------------------------------------------

    def for_create(
        self, filename: str, size: int, purpose: str, params: Parameters
    ) -> Recover[OpenAIFile]:
        """The lookup of a ``create`` of known size: a file of that name, size and purpose."""

        def recover(started: float) -> Coroutine[Any, Any, Reply[OpenAIFile] | None]:
            return self.find_file(filename, size, purpose, params, started)

        return recover

    def for_stream(
        self, filename: str, purpose: str, params: Parameters, counted: SentBytes
    ) -> Recover[OpenAIFile]:
        """The lookup of a ``create`` from a stream, whose size is what ``counted`` saw sent.

        NOTE: a stream is never sent twice, so the only attempt that can send it whole is the
        one that reported its size last.
        """

        def recover(started: float) -> Coroutine[Any, Any, Reply[OpenAIFile] | None]:
            return self.find_file(filename, counted.sent, purpose, params, started)

        return recover

    def for_import(self, filename: str, purpose: str, params: Parameters) -> Recover[OpenAIFile]:
        """The lookup of an ``import_url``: a file of that name and purpose (of any size: the
        server fetches it)."""

        def recover(started: float) -> Coroutine[Any, Any, Reply[OpenAIFile] | None]:
            return self.find_file(filename, None, purpose, params, started)

        return recover

    def for_delete(self, file_id: str, params: Parameters) -> Recover[FileDeleted]:
        """The lookup of a ``delete``: the file is gone."""

        async def recover(started: float) -> Reply[FileDeleted] | None:
            spec = self._endpoint.retrieve_file(file_id)
            try:
                await self._transport.send(spec, params, _FILE)
            except NotFoundError as gone:
                return Reply(FileDeleted(id=file_id, deleted=True), gone.headers)
            return None

        return recover

    # --- the shared parts -----------------------------------------------------------------

    async def find_file(
        self, filename: str, size: int | None, purpose: str, params: Parameters, since: float
    ) -> Reply[OpenAIFile] | None:
        """The file a request that lost its answer made, if the server has it: the newest file
        of the same filename, size (None: any) and purpose, created since ``since`` (give or
        take the clocks' skew) and not claimed by another call of this client."""
        query = FileListParameters(
            purpose=purpose,
            order="desc",
            limit=LOOKUP_PAGE,
            timeout=params.timeout,
            extra_headers=params.extra_headers,
        )
        reply = await self._transport.send(self._endpoint.list_files(query), query, _FILE_LIST)
        oldest = since - CLOCK_SKEW
        for file in reply.value.data:
            if file.created_at < oldest:
                break
            same = (file.filename, file.purpose) == (filename, purpose) and (
                size is None or file.bytes == size
            )
            if same and self.claim(file.id):
                logger.info("a request lost its answer; the server had made file %s", file.id)
                return Reply(file, reply.headers)
        return None

    async def claimed(self, making: Coroutine[Any, Any, Reply[OpenAIFile]]) -> Reply[OpenAIFile]:
        """The reply of a call that makes a file, whose file this client then knows as its own."""
        reply = await making
        self.claim(reply.value.id)
        return reply

    def claim(self, file_id: str) -> bool:
        """Marks a file as made by one of this client's calls; False if one had claimed it."""
        if file_id in self._claims:
            return False
        self._claims[file_id] = None
        if len(self._claims) > CLAIMS_KEPT:
            del self._claims[next(iter(self._claims))]
        return True
