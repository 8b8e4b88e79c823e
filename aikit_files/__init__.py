"""aikit_files: an asyncio-first SDK for the OpenAI (and Azure OpenAI) Files API.

Modelled on 4D AIKit's ``OpenAIFilesAPI``: the same operations, parameter objects and result
objects, and its asynchronous-call pattern (``on_terminate``, ``on_response``, ``on_error``).
"""

from __future__ import annotations

from ._client import AsyncClient
from ._config import Timeout
from ._exceptions import (
    AIKitError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    FileProcessingError,
    InternalServerError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    LocalIOError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    SyncInEventLoopError,
    UnprocessableEntityError,
)
from ._files import AsyncFilesAPI
from ._models import (
    ContentResult,
    DownloadResult,
    ErrorInfo,
    ExpiresAfter,
    FileDeleted,
    FileDeletedResult,
    FileList,
    FileListResult,
    FileResult,
    OpenAIFile,
    RateLimit,
    Result,
    Upload,
    UploadPart,
    UploadPartResult,
    UploadResult,
)
from ._params import DownloadParameters, FileListParameters, FileParameters, Parameters
from ._sync import Client, FilesAPI, UploadsAPI
from ._uploads import AsyncUploadsAPI

__version__ = "0.1.0"

__all__ = [
    "AIKitError",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncFilesAPI",
    "AsyncUploadsAPI",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ClientClosedError",
    "ConflictError",
    "ContentResult",
    "DownloadParameters",
    "DownloadResult",
    "ErrorInfo",
    "ExpiresAfter",
    "FileDeleted",
    "FileDeletedResult",
    "FileList",
    "FileListParameters",
    "FileListResult",
    "FileParameters",
    "FileProcessingError",
    "FileResult",
    "FilesAPI",
    "InternalServerError",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "LocalIOError",
    "NotFoundError",
    "OpenAIFile",
    "Parameters",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "RequestTooLargeError",
    "Result",
    "SyncInEventLoopError",
    "Timeout",
    "UnprocessableEntityError",
    "Upload",
    "UploadPart",
    "UploadPartResult",
    "UploadResult",
    "UploadsAPI",
    "__version__",
]
