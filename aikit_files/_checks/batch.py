"""The Batch API's rules for its input file, fed one decoded line at a time.

Sources, each named where its rule is applied: the official OpenAPI spec in
``shared/specs/openai-openapi.yaml`` (``CreateBatchRequest``: the endpoints, "up to 50,000
requests, and can be up to 200 MB in size", "``/v1/embeddings`` batches are also restricted to a
maximum of 50,000 embedding inputs across all requests in the batch"), and the per-line schema
``BatchRequestInput`` (openai/openai-openapi, ``manual_spec`` branch): ``custom_id`` a string
"unique for each request in a batch", ``method`` ``POST``, ``url`` the endpoint, ``body`` the
request's parameters (https://platform.openai.com/docs/api-reference/batch/request-input).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from aikit_files._limits import BATCH_FILE_LIMIT, human_size

from ._problems import Problems
from .jsonl import kind

#: ``CreateBatchRequest.endpoint``'s enum in the OpenAPI spec: the endpoints a batch may call.
BATCH_ENDPOINTS: Final = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
#: "The file can contain up to 50,000 requests" (``CreateBatchRequest.input_file_id``).
MAX_REQUESTS: Final = 50_000
#: "a maximum of 50,000 embedding inputs across all requests" (``CreateBatchRequest.endpoint``).
MAX_EMBEDDING_INPUTS: Final = 50_000
#: A custom_id longer than this is remembered by its digest, so memory stays bounded.
_SHORT_ID: Final = 64


def _key(custom_id: str) -> str | bytes:
    """What the uniqueness check remembers of a custom_id: itself if short, else its digest."""
    if len(custom_id) <= _SHORT_ID:
        return custom_id
    return hashlib.blake2b(custom_id.encode("utf-8", "surrogatepass"), digest_size=20).digest()


def embedding_inputs(body: dict[str, Any]) -> int:
    """How many inputs an embeddings request holds (``CreateEmbeddingRequest.input``: a string,
    an array of strings, an array of tokens, or an array of token arrays)."""
    value = body.get("input")
    if isinstance(value, list):
        if value and all(isinstance(item, int) for item in value):
            return 1
        return len(value)
    return 1


class BatchRules:
    """Checks each request of a batch input file, then the file as a whole."""

    def __init__(self, problems: Problems) -> None:
        self._problems = problems
        self.requests = 0
        self.endpoint: str | None = None
        self._endpoint_line = 0
        self._ids: dict[str | bytes, int] = {}
        self._inputs = 0

    def line(self, number: int, record: dict[str, Any]) -> None:
        """Checks the request on line ``number``."""
        add = self._problems.add
        self.requests += 1
        if self.requests == MAX_REQUESTS + 1:
            add(
                number,
                None,
                f"more than {MAX_REQUESTS:,} requests: a batch file holds at most that",
            )
        custom_id = record.get("custom_id")
        if custom_id is None:
            add(number, "custom_id", "missing: each request needs a custom_id")
        elif not isinstance(custom_id, str):
            add(number, "custom_id", f"must be a string, not a JSON {kind(custom_id)}")
        elif self.requests <= MAX_REQUESTS:
            # NOTE: past the limit the file is refused anyway: the ids stop being remembered,
            # so that memory stays bounded whatever the file's length.
            first = self._ids.setdefault(_key(custom_id), number)
            if first != number:
                add(number, "custom_id", f"{custom_id[:80]!r} is repeated (first on line {first})")
        method = record.get("method")
        if method != "POST":
            shown = "missing" if method is None else f"{method!r}"
            add(number, "method", f"must be 'POST' (the only method a batch sends), not {shown}")
        self._check_url(number, record.get("url"))
        body = record.get("body")
        if not isinstance(body, dict):
            shown = "missing" if body is None else f"a JSON {kind(body)}"
            add(number, "body", f"must be an object (the request's parameters), not {shown}")
        elif record.get("url") == "/v1/embeddings":
            before = self._inputs
            self._inputs += embedding_inputs(body)
            if before <= MAX_EMBEDDING_INPUTS < self._inputs:
                add(
                    number,
                    "body.input",
                    f"the file's embedding inputs pass {MAX_EMBEDDING_INPUTS:,} "
                    "(the most an embeddings batch takes)",
                )

    def _check_url(self, number: int, url: object) -> None:
        add = self._problems.add
        if not isinstance(url, str):
            shown = "missing" if url is None else f"a JSON {kind(url)}"
            add(number, "url", f"must be the endpoint as a string, not {shown}")
        elif url not in BATCH_ENDPOINTS:
            add(
                number,
                "url",
                f"{url[:80]!r} is not an endpoint the Batch API accepts "
                f"({', '.join(BATCH_ENDPOINTS)})",
            )
        elif self.endpoint is None:
            self.endpoint, self._endpoint_line = url, number
        elif url != self.endpoint:
            add(
                number,
                "url",
                f"{url!r} differs from the file's endpoint {self.endpoint!r} "
                f"(line {self._endpoint_line}): a batch calls one endpoint",
            )

    def finish(self, size: int) -> None:
        """Checks the file as a whole, once every line was read."""
        if size > BATCH_FILE_LIMIT:
            self._problems.add(
                None,
                None,
                f"the file is {human_size(size)}, more than the {human_size(BATCH_FILE_LIMIT)} "
                "a batch file may be",
            )
        if self.requests == 0:
            self._problems.add(None, None, "the file holds no request")
