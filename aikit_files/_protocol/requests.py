"""Request specs of the Files API: URL, query and headers for OpenAI and for Azure OpenAI."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

import attrs

from aikit_files._config import ClientConfig
from aikit_files._exceptions import InvalidArgumentError, InvalidArgumentTypeError
from aikit_files._params import FileListParameters

USER_AGENT = "aikit-files"


@attrs.frozen
class RequestSpec:
    """One HTTP request to make, minus its body: the transport adds that and sends it."""

    method: str
    url: str
    query: Mapping[str, str] = attrs.field(factory=dict)
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    """The request headers; the credentials are among them, so they are kept out of the repr."""


def check_file_id(file_id: object, name: str = "file_id") -> str:
    """Checks a file id before it is put in a URL path.

    Returns:
        The id, unchanged.

    Raises:
        InvalidArgumentError: the id is empty, holds ``/``, ``..`` or a control character (a
            ``TypeError`` too when it is not a string).
    """
    if not isinstance(file_id, str):
        raise InvalidArgumentTypeError(f"{name} must be a string, not {type(file_id).__name__}")
    if not file_id:
        raise InvalidArgumentError(f"{name} must not be empty")
    # NOTE: the id is also percent-quoted in the path; refusing these outright turns a mistake
    # (a path, a URL, a traversal) into a clear error instead of a request to another route.
    if "/" in file_id or ".." in file_id:
        raise InvalidArgumentError(f"{name} must not contain '/' or '..', got {file_id!r}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in file_id):
        raise InvalidArgumentError(f"{name} must not contain control characters, got {file_id!r}")
    return file_id


class Endpoint:
    """Builds the requests of the Files API for one client configuration.

    OpenAI: ``{base_url}/files`` with ``Authorization: Bearer``, ``OpenAI-Organization`` and
    ``OpenAI-Project``. Azure: ``{endpoint}/openai/files?api-version=...`` with ``api-key``.
    """

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        if config.provider == "azure":
            self._root = config.base_url + "/openai"
            self._query: dict[str, str] = {"api-version": config.api_version or ""}
        else:
            self._root = config.base_url
            self._query = {}
        self._headers = self._base_headers(config)

    @staticmethod
    def _base_headers(config: ClientConfig) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT}
        if config.provider == "azure":
            if config.api_key:
                headers["api-key"] = config.api_key
            return headers
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        if config.organization:
            headers["OpenAI-Organization"] = config.organization
        if config.project:
            headers["OpenAI-Project"] = config.project
        return headers

    def __repr__(self) -> str:
        return f"Endpoint(root={self._root!r})"

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        *,
        accept: str = "application/json",
    ) -> RequestSpec:
        """A request to ``path`` (below the API root) with the client's credentials."""
        return RequestSpec(
            method=method,
            url=self._root + path,
            query={**self._query, **(query or {})},
            headers={**self._headers, "Accept": accept},
        )

    def create_file(self) -> RequestSpec:
        """``POST /files``; the transport sends the multipart body."""
        return self.request("POST", "/files")

    def list_files(self, params: FileListParameters) -> RequestSpec:
        """``GET /files`` with the filters and cursor of ``params``."""
        return self.request("GET", "/files", params.query())

    def retrieve_file(self, file_id: str) -> RequestSpec:
        """``GET /files/{file_id}``."""
        return self.request("GET", file_path(file_id))

    def delete_file(self, file_id: str) -> RequestSpec:
        """``DELETE /files/{file_id}``."""
        return self.request("DELETE", file_path(file_id))

    def file_content(self, file_id: str) -> RequestSpec:
        """``GET /files/{file_id}/content``: the file's bytes, not JSON."""
        return self.request("GET", file_path(file_id) + "/content", accept="*/*")


def file_path(file_id: str) -> str:
    """The path of one file; the id is checked and percent-quoted."""
    return "/files/" + urllib.parse.quote(check_file_id(file_id), safe="")
