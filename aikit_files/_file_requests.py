"""The requests under the Files API's calls: one request as a call, a file, a listing's pages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

from ._calls import CallTracker
from ._io.sinks import Sink, json_sink
from ._models import FileDeleted, FileList, OpenAIFile
from ._params import FileListParameters, Parameters
from ._protocol.pagination import Pages
from ._protocol.requests import Endpoint, RequestSpec
from ._protocol.responses import Reply
from ._results import Result
from ._transport import Recover, Transport

T = TypeVar("T")

#: The sinks of the JSON answers, made once.
FILE_SINK = json_sink(OpenAIFile)
FILE_LIST_SINK = json_sink(FileList)
FILE_DELETED_SINK = json_sink(FileDeleted)


class FileRequests:
    """The requests that ``AsyncFilesAPI``'s calls make, over the state it holds."""

    _transport: Transport
    _endpoint: Endpoint
    _tracker: CallTracker

    def _call(
        self,
        spec: RequestSpec,
        params: Parameters,
        sink: Sink[T],
        result_type: type[Result],
        name: str,
        *,
        recover: Recover[T] | None = None,
    ) -> asyncio.Task[T]:
        """Runs a call made of one request, whose successful response ``sink`` reads."""
        send = self._transport.send(spec, params, sink, recover=recover)
        return self._tracker.start(send, params, result_type, name)

    def _retrieve(self, file_id: str, params: Parameters) -> Coroutine[Any, Any, Reply[OpenAIFile]]:
        return self._transport.send(self._endpoint.retrieve_file(file_id), params, FILE_SINK)

    async def _iterate(self, params: FileListParameters) -> AsyncIterator[OpenAIFile]:
        pages = Pages(params)
        while (page_params := pages.params) is not None:
            self._tracker.check_open()
            reply = await self._transport.send(
                self._endpoint.list_files(page_params), page_params, FILE_LIST_SINK
            )
            # NOTE: checked before its files are given: a page that comes back around is
            # not given twice.
            pages.advance(reply.value)
            for file in reply.value.data:
                yield file
