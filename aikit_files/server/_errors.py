"""The errors the server refuses a request with, and their constructors (400, 404, 413, 507)."""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import Final

#: The ``errno`` of a write to a full disk, or past the user's disk quota.
DISK_FULL: Final = frozenset({errno.ENOSPC, errno.EDQUOT})


class ApiError(Exception):
    """A request the server refuses; the middleware renders it in the route's flavour."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        azure_code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.azure_code = azure_code
        #: Headers the answer carries (a 405's ``Allow``).
        self.headers = dict(headers or {})


class StorageFull(ApiError):
    """A file that would take the files stored past the server's storage limit."""

    def __init__(self, limit: int):
        # The real API's words and status (a 400 invalid_request_error); Azure's quotaExceeded.
        super().__init__(
            400,
            "You have exceeded your file storage quota: the files stored may total at most "
            f"{limit} bytes. Delete old files, or upload a smaller file.",
            azure_code="quotaExceeded",
        )


class DiskFull(ApiError):
    """The data directory's disk (or the user's disk quota) is full: 507 Insufficient Storage
    (RFC 4918), a state of the server that no retry of the same request mends."""

    def __init__(self) -> None:
        super().__init__(
            507,
            "The server's disk is full: the content could not be stored. Free some space on "
            "the server, or delete files.",
            code="insufficient_storage",
            azure_code="internalFailure",
        )


def bad_request(message: str, param: str | None = None) -> ApiError:
    """A 400 ``invalid_request_error`` about ``param``."""
    return ApiError(400, message, param=param)


def timed_out(seconds: float) -> ApiError:
    """A 408 for a client that sent nothing for ``seconds`` in the middle of its request."""
    return ApiError(408, f"The request timed out: the client sent nothing for {seconds:g} seconds.")


def not_found(kind: str, object_id: str, param: str) -> ApiError:
    """A 404 for an object that does not exist (or never could: a malformed id)."""
    return ApiError(404, f"No such {kind} object: {object_id}", param=param)


def too_large(what: str, limit: int) -> ApiError:
    """A 413 for a body or file larger than ``limit`` bytes."""
    return ApiError(
        413, f"{what} exceeds the maximum size of {limit} bytes.", code="file_too_large"
    )
