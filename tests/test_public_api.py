"""The public names of aikit_files: every name DESIGN.md lists is exported."""

from __future__ import annotations

import aikit_files as af

DESIGN_NAMES = {
    "AIKitError",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncFilesAPI",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "ContentResult",
    "DownloadResult",
    "ErrorInfo",
    "ExpiresAfter",
    "FileDeleted",
    "FileCheck",
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
    "InvalidFileError",
    "ManyResult",
    "NotFoundError",
    "OpenAIFile",
    "Parameters",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "Result",
    "Timeout",
    "UnprocessableEntityError",
    "check_file",
}


def test_design_names_are_exported() -> None:
    missing = {name for name in DESIGN_NAMES if not hasattr(af, name)}
    assert not missing
    assert set(af.__all__) >= DESIGN_NAMES


def test_all_is_sorted_and_resolves() -> None:
    assert list(af.__all__) == sorted(af.__all__)
    for name in af.__all__:
        assert getattr(af, name) is not None


def test_error_tree() -> None:
    assert issubclass(af.APITimeoutError, af.APIConnectionError)
    assert issubclass(af.APIConnectionError, af.APIError)
    assert issubclass(af.APIStatusError, af.APIError)
    assert issubclass(af.APIError, af.AIKitError)
    assert issubclass(af.InvalidArgumentError, ValueError)
    assert issubclass(af.InvalidArgumentTypeError, TypeError)
    assert issubclass(af.InvalidArgumentTypeError, af.InvalidArgumentError)
    assert issubclass(af.FileProcessingError, af.AIKitError)
