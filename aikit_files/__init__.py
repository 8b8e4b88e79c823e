"""aikit_files: an asyncio-first SDK for the OpenAI (and Azure OpenAI) Files API.

Modelled on 4D AIKit's ``OpenAIFilesAPI``: the same operations, parameter objects and result
objects, and its asynchronous-call pattern (``on_terminate``, ``on_response``, ``on_error``).
"""

from __future__ import annotations

from ._checks import check_file
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
    CallbackDeadlockError,
    ClientClosedError,
    ConflictError,
    FileProcessingError,
    InternalServerError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    InvalidFileError,
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
    ExpiresAfter,
    FileCheck,
    FileDeleted,
    FileList,
    FileProblem,
    OpenAIFile,
    Upload,
    UploadPart,
)
from ._params import DownloadParameters, FileListParameters, FileParameters, Parameters
from ._results import (
    ContentResult,
    DownloadResult,
    ErrorInfo,
    FileDeletedResult,
    FileListResult,
    FileResult,
    ManyResult,
    RateLimit,
    Result,
    UploadPartResult,
    UploadResult,
)
from ._sync import Client
from ._sync_files import FilesAPI
from ._sync_uploads import UploadsAPI
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
    "CallbackDeadlockError",
    "Client",
    "ClientClosedError",
    "ConflictError",
    "ContentResult",
    "DownloadParameters",
    "DownloadResult",
    "ErrorInfo",
    "ExpiresAfter",
    "FileCheck",
    "FileDeleted",
    "FileDeletedResult",
    "FileList",
    "FileListParameters",
    "FileListResult",
    "FileParameters",
    "FileProblem",
    "FileProcessingError",
    "FileResult",
    "FilesAPI",
    "InternalServerError",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "InvalidFileError",
    "LocalIOError",
    "ManyResult",
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
    "check_file",
]
