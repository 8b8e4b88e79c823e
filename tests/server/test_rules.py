"""The rules of a request's values, without a server: what each returns, and what it refuses."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yarl

from aikit_files._limits import (
    AZURE_UPLOAD_EXPIRY_SECONDS,
    AZURE_UPLOAD_LIMIT,
    AZURE_UPLOAD_PART_LIMIT,
    BATCH_FILE_LIMIT,
    LIST_LIMIT_MAX,
    SIMPLE_UPLOAD_LIMIT,
    UPLOAD_EXPIRY_SECONDS,
    UPLOAD_LIMIT,
    UPLOAD_PART_LIMIT,
    GiB,
    MiB,
)
from aikit_files.server._errors import ApiError
from aikit_files.server._rules import (
    Settings,
    check_content_url,
    check_expires_after,
    check_limit,
    check_order,
    check_upload_bytes,
)

SETTINGS = Settings(upload_limit=100, azure_upload_limit=112, batch_file_limit=10)


def refused(call: Callable[..., object], *args: object, **kwargs: object) -> ApiError:
    with pytest.raises(ApiError) as error:
        call(*args, **kwargs)
    return error.value


def test_listing_query() -> None:
    assert check_limit(None) == LIST_LIMIT_MAX
    assert check_limit("5") == check_limit("+5") == check_limit(" 5 ") == 5
    for text in ("0", "-1", "", "ten", str(LIST_LIMIT_MAX + 1)):
        error = refused(check_limit, text)
        assert (error.status, error.param) == (400, "limit")
        assert repr(text) in error.message
    assert check_order(None) == "desc"
    assert check_order("asc") == "asc"
    assert refused(check_order, "").param == "order"


def test_upload_bytes_by_purpose() -> None:
    assert check_upload_bytes(SETTINGS, "assistants", 100, azure=False) == 100
    assert check_upload_bytes(SETTINGS, "batch", 10, azure=False) == 10
    assert refused(check_upload_bytes, SETTINGS, "batch", 11, azure=False).param == "bytes"
    assert refused(check_upload_bytes, SETTINGS, "assistants", 101, azure=False).param == "bytes"
    for wrong in (-1, True, 1.0, "1", None):
        assert refused(check_upload_bytes, SETTINGS, "assistants", wrong, azure=False).message == (
            "'bytes' must be a non-negative integer."
        )


def test_upload_bytes_by_flavour() -> None:
    assert check_upload_bytes(SETTINGS, "assistants", 112, azure=True) == 112
    assert refused(check_upload_bytes, SETTINGS, "assistants", 113, azure=True).param == "bytes"
    # A batch Upload makes a batch file, on either flavour.
    assert refused(check_upload_bytes, SETTINGS, "batch", 11, azure=True).param == "bytes"


def test_the_uploads_of_each_flavour_by_default() -> None:
    settings = Settings()
    assert settings.upload_limit_for("fine-tune", azure=False) == UPLOAD_LIMIT == 8 * GiB
    assert settings.upload_limit_for("fine-tune", azure=True) == AZURE_UPLOAD_LIMIT == 9 * GiB
    assert settings.upload_limit_for("batch", azure=True) == BATCH_FILE_LIMIT
    assert settings.upload_expiry_for(azure=False) == UPLOAD_EXPIRY_SECONDS == 3600
    assert settings.upload_expiry_for(azure=True) == AZURE_UPLOAD_EXPIRY_SECONDS == 7200
    assert settings.part_limit_for("assistants", azure=False) == UPLOAD_PART_LIMIT == 64 * MiB
    assert settings.part_limit_for("batch", azure=False) == UPLOAD_PART_LIMIT
    # Azure: "the standard size limit for file upload, based on the File Purpose".
    assert settings.part_limit_for("assistants", azure=True) == AZURE_UPLOAD_PART_LIMIT
    assert AZURE_UPLOAD_PART_LIMIT == SIMPLE_UPLOAD_LIMIT == 512 * MiB
    assert settings.part_limit_for("batch", azure=True) == BATCH_FILE_LIMIT
    # The options shrink them: file_limit and batch_file_limit are Azure's Part limits too.
    shrunk = Settings(file_limit=50, batch_file_limit=10, part_limit=20, upload_expiry=60)
    assert shrunk.part_limit_for("assistants", azure=True) == 50
    assert shrunk.part_limit_for("batch", azure=True) == 10
    assert shrunk.part_limit_for("assistants", azure=False) == 20
    assert shrunk.upload_expiry_for(azure=False) == 60


def test_expires_after_object() -> None:
    assert check_expires_after(None) is None
    assert check_expires_after({}) is None
    assert check_expires_after({"anchor": "created_at", "seconds": 3600}) == 3600
    assert refused(check_expires_after, 3600).param == "expires_after"
    assert refused(check_expires_after, {"seconds": 3600}).param == "expires_after.anchor"
    assert refused(check_expires_after, {"anchor": "created_at"}).param == "expires_after.seconds"


def test_content_url() -> None:
    assert check_content_url("https://host/a.jsonl?sig=x") == yarl.URL("https://host/a.jsonl?sig=x")
    for wrong in ("file:///etc/passwd", "/etc/passwd", "http://", 5, None):
        assert refused(check_content_url, wrong).param == "content_url"
