"""The error tree of aikit_files, and the table from HTTP status to error class.

::

    AIKitError
     ├── InvalidArgumentError (also a ValueError)   bad argument, raised before any I/O
     │    ├── InvalidArgumentTypeError (also a TypeError)
     │    └── InvalidFileError                      a file failed check_file (create(check=True))
     ├── ClientClosedError                          a call started on a closed (or closing) client
     ├── SyncInEventLoopError (also a RuntimeError) the sync client would deadlock where it is used
     ├── CallbackDeadlockError (also a RuntimeError) a sync callback waited for what it holds up
     ├── LocalIOError                               this machine's side failed: reading what
     │                                              to upload, or writing a download (no retry)
     ├── FileProcessingError                        the server failed to process a file
     └── APIError                                   the call failed talking to the API
          ├── APIConnectionError                    no usable response (network, TLS, ...)
          │    └── APITimeoutError                  a time limit ran out
          └── APIStatusError                        the server answered 4xx or 5xx
               ├── BadRequestError           400
               ├── AuthenticationError       401
               ├── PermissionDeniedError     403
               ├── NotFoundError             404
               ├── ConflictError             409
               ├── RequestTooLargeError      413
               ├── UnprocessableEntityError  422
               ├── RateLimitError            429
               └── InternalServerError       5xx

No exception of aiohttp (or of any other dependency) reaches users: the transport translates
them at one boundary and keeps the original as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class AIKitError(Exception):
    """Base of every error raised by aikit_files."""


class InvalidArgumentError(AIKitError, ValueError):
    """An argument is malformed; raised synchronously, before any I/O and any callback."""


class InvalidArgumentTypeError(InvalidArgumentError, TypeError):
    """An argument is of the wrong type."""


class InvalidFileError(InvalidArgumentError):
    """A file does not meet the API's format rules for its purpose (``create(..., check=True)``):
    nothing was sent. ``check`` holds the ``FileCheck`` with every problem found."""

    def __init__(self, check: Any, filename: str) -> None:
        # NOTE: typed Any: the FileCheck model lives above this module, which imports nothing.
        self.check = check
        first = f"; the first: {check.problems[0]}" if check.problems else ""
        count = check.problem_count
        super().__init__(
            f"{filename!r} is not a valid {check.purpose} file: {count} "
            f"problem{'' if count == 1 else 's'}{first}"
        )


class ClientClosedError(AIKitError):
    """A call was started on a client that is closed or closing."""


class SyncInEventLoopError(AIKitError, RuntimeError):
    """The sync client was used where blocking would deadlock: on its own event loop's thread."""


class CallbackDeadlockError(AIKitError, RuntimeError):
    """A callback of the sync client waited for what cannot end before it returns: another call's
    Future of the same client (whose callbacks run after it, on the same thread), or ``close()``.
    """


class LocalIOError(AIKitError):
    """This side of the call failed: reading the file (or stream) to upload, or writing a download.

    Told apart from a network failure by its type: it is never retried, and its message names
    the path when there is one; the original error is its ``__cause__``.
    """


class FileProcessingError(AIKitError):
    """The server ended processing a file in the ``error`` status."""

    def __init__(self, message: str, *, file: Any = None, status_details: str | None = None):
        super().__init__(message)
        self.message = message
        #: The ``OpenAIFile`` as last retrieved.
        self.file = file
        #: The server's explanation, when it gave one.
        self.status_details = status_details


class APIError(AIKitError):
    """The call failed while talking to the API."""

    def __init__(
        self,
        message: str,
        *,
        body: object = None,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        #: The decoded error body (the ``error`` object when the server sent one), or None.
        self.body = body
        self.code = code
        self.type = type
        self.param = param
        self.request_id = request_id


class APIConnectionError(APIError):
    """No usable response was received: the connection failed, broke, or TLS failed."""


class APITimeoutError(APIConnectionError):
    """A time limit (connect, read, write, total, or ``max_wait``) ran out."""


class APIStatusError(APIError):
    """The server answered with a 4xx or 5xx status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        headers: Mapping[str, str] | None = None,
        body: object = None,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
    ):
        super().__init__(
            message, body=body, code=code, type=type, param=param, request_id=request_id
        )
        self.status_code = status_code
        #: The response headers (as the transport gives them: case-insensitive).
        self.headers: Mapping[str, str] = headers if headers is not None else {}

    def __str__(self) -> str:
        return f"Error code: {self.status_code} - {self.message}"


class BadRequestError(APIStatusError):
    """400: the request was malformed or invalid."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this."""


class NotFoundError(APIStatusError):
    """404: no such file (or route)."""


class ConflictError(APIStatusError):
    """409: the resource is in a state that forbids the call."""


class RequestTooLargeError(APIStatusError):
    """413: the body is over the size limit."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well-formed but could not be processed."""


class RateLimitError(APIStatusError):
    """429: too many requests."""


class InternalServerError(APIStatusError):
    """5xx: the server failed."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """Returns the ``APIStatusError`` subclass for an HTTP status code."""
    if status >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status, APIStatusError)
