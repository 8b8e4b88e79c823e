"""The rules of a request's values, without a server: what each returns, and what it refuses."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yarl

from aikit_files._limits import LIST_LIMIT_MAX
from aikit_files.server._errors import ApiError
from aikit_files.server._rules import (
    Settings,
    check_after,
    check_content_url,
    check_expires_after,
    check_limit,
    check_order,
    check_upload_bytes,
)

SETTINGS = Settings(upload_limit=100, batch_file_limit=10)
FILE_ID = "file-" + "0" * 32


def refused(call: Callable[..., object], *args: object) -> ApiError:
    with pytest.raises(ApiError) as error:
        call(*args)
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
    assert check_after(None) is None
    assert check_after("") is None
    assert check_after(FILE_ID) == FILE_ID
    assert refused(check_after, "../x").param == "after"


def test_upload_bytes_by_purpose() -> None:
    assert check_upload_bytes(SETTINGS, "assistants", 100) == 100
    assert check_upload_bytes(SETTINGS, "batch", 10) == 10
    assert refused(check_upload_bytes, SETTINGS, "batch", 11).param == "bytes"
    assert refused(check_upload_bytes, SETTINGS, "assistants", 101).param == "bytes"
    for wrong in (-1, True, 1.0, "1", None):
        assert refused(check_upload_bytes, SETTINGS, "assistants", wrong).message == (
            "'bytes' must be a non-negative integer."
        )


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
