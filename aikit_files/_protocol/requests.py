"""Request specs of the Files and Uploads APIs: URL, query, headers and body, for OpenAI and Azure.

Everything here is pure: a spec says what to send, including its body (a multipart form whose
file part streams from a source, a JSON document, or nothing), and the transport sends it.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import ClassVar, Final

import attrs

from aikit_files._config import ClientConfig
from aikit_files._exceptions import InvalidArgumentError, InvalidArgumentTypeError
from aikit_files._models import ExpiresAfter
from aikit_files._params import FileListParameters

from .multipart import MultipartForm
from .sources import UploadSource

USER_AGENT: Final = "aikit-files"

#: A control character: C0 or DEL.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


@attrs.frozen
class FormBody:
    """A ``multipart/form-data`` body: the form's framing around the bytes of one source.

    The file part holds ``length`` bytes of ``source`` from ``offset`` (the whole source by
    default), so that a part of a large upload is a byte range of the same source.
    """

    form: MultipartForm
    source: UploadSource
    offset: int = 0
    """Where the file part starts in the source."""
    length: int | None = attrs.field(default=attrs.Factory(lambda self: self.source.size, True))
    """Bytes of the file part; None when the source's size is unknown (sent chunked)."""

    @property
    def content_type(self) -> str:
        """The request's ``Content-Type`` header."""
        return self.form.content_type

    @property
    def content_length(self) -> int | None:
        """The body's exact length; None when the file part's size is unknown."""
        return self.form.content_length(self.length)


@attrs.frozen
class JsonBody:
    """A JSON body, already encoded."""

    data: bytes = attrs.field(repr=False)

    content_type: ClassVar[str] = "application/json"

    @classmethod
    def of(cls, document: Mapping[str, object]) -> JsonBody:
        """Encodes ``document`` (JSON-ready values) compactly, as UTF-8."""
        return cls(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())


#: What a request carries: a form, a JSON document, or nothing.
Body = FormBody | JsonBody | None


@attrs.frozen
class RequestSpec:
    """One HTTP request to make: the transport sends it as it is."""

    method: str
    url: str
    query: Mapping[str, str] = attrs.field(factory=dict)
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    """The request headers; the credentials are among them, so they are kept out of the repr."""
    body: Body = None


def check_object_id(value: object, name: str) -> str:
    """Checks an object id (a file, an Upload) before it is put in a URL path.

    Returns:
        The id, unchanged.

    Raises:
        InvalidArgumentError: the id is empty, holds ``/``, ``..`` or a control character (a
            ``TypeError`` too when it is not a string).
    """
    if not isinstance(value, str):
        raise InvalidArgumentTypeError(f"{name} must be a string, not {type(value).__name__}")
    if not value:
        raise InvalidArgumentError(f"{name} must not be empty")
    # NOTE: the id is also percent-quoted in the path; refusing these outright turns a mistake
    # (a path, a URL, a traversal) into a clear error instead of a request to another route.
    # NOTE: "." would be dropped from the URL's path ("/files/." is "/files/"), and ".." climb.
    if "/" in value or ".." in value or value == ".":
        raise InvalidArgumentError(f"{name} must not be '.' or contain '/' or '..', got {value!r}")
    if _CONTROL.search(value):
        raise InvalidArgumentError(f"{name} must not contain control characters, got {value!r}")
    return value


def check_file_id(file_id: object, name: str = "file_id") -> str:
    """Checks a file id before it is put in a URL path; see ``check_object_id``."""
    return check_object_id(file_id, name)


class Endpoint:
    """Builds the requests of the Files and Uploads APIs for one client configuration.

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
        # NOTE: the headers of a request accepting JSON, made once: most requests are.
        self._json_headers = {**self._headers, "Accept": "application/json"}

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
        body: Body = None,
        accept: str = "application/json",
    ) -> RequestSpec:
        """A request to ``path`` (below the API root) with the client's credentials."""
        return RequestSpec(
            method,
            self._root + path,
            {**self._query, **query} if query else self._query,
            self._json_headers
            if accept == "application/json"
            else {**self._headers, "Accept": accept},
            body,
        )

    # --- Files -----------------------------------------------------------------------------

    def create_file(self, body: FormBody) -> RequestSpec:
        """``POST /files`` with its multipart form."""
        return self.request("POST", "/files", body=body)

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

    def import_file(self, content_url: str, filename: str, purpose: str) -> RequestSpec:
        """Azure's ``POST /files/import``: the server fetches the file from ``content_url``."""
        document = {"purpose": purpose, "filename": filename, "content_url": content_url}
        return self.request("POST", "/files/import", body=JsonBody.of(document))

    # --- Uploads ---------------------------------------------------------------------------

    def create_upload(
        self,
        *,
        filename: str,
        purpose: str,
        size: int,
        mime_type: str,
        expires_after: ExpiresAfter | None = None,
    ) -> RequestSpec:
        """``POST /uploads``: an Upload that will take ``size`` bytes in Parts."""
        document: dict[str, object] = {
            "filename": filename,
            "purpose": purpose,
            "bytes": size,
            "mime_type": mime_type,
        }
        if expires_after is not None:
            document["expires_after"] = {
                "anchor": expires_after.anchor,
                "seconds": expires_after.seconds,
            }
        return self.request("POST", "/uploads", body=JsonBody.of(document))

    def add_upload_part(self, upload_id: str, body: FormBody) -> RequestSpec:
        """``POST /uploads/{upload_id}/parts`` with a form whose ``data`` part is the Part."""
        return self.request("POST", upload_path(upload_id) + "/parts", body=body)

    def complete_upload(
        self, upload_id: str, part_ids: Sequence[str], md5: str | None = None
    ) -> RequestSpec:
        """``POST /uploads/{upload_id}/complete``: the Parts in order, and the file's MD5."""
        document: dict[str, object] = {"part_ids": list(part_ids)}
        if md5 is not None:
            document["md5"] = md5
        return self.request(
            "POST", upload_path(upload_id) + "/complete", body=JsonBody.of(document)
        )

    def cancel_upload(self, upload_id: str) -> RequestSpec:
        """``POST /uploads/{upload_id}/cancel``."""
        return self.request("POST", upload_path(upload_id) + "/cancel")


def file_path(file_id: str) -> str:
    """The path of one file; the id is checked and percent-quoted."""
    return "/files/" + urllib.parse.quote(check_file_id(file_id), safe="")


def upload_path(upload_id: str) -> str:
    """The path of one Upload; the id is checked and percent-quoted."""
    return "/uploads/" + urllib.parse.quote(check_object_id(upload_id, "upload_id"), safe="")
