"""The server's settings, and the rules a new file must follow (purpose, name, size, expiry)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import attrs

from aikit_files._limits import (
    BATCH_FILE_LIMIT,
    EXPIRES_AFTER_MAX,
    EXPIRES_AFTER_MIN,
    SIMPLE_UPLOAD_LIMIT,
    UPLOAD_EXPIRY_SECONDS,
    UPLOAD_LIMIT,
    UPLOAD_PART_LIMIT,
)

from ._errors import bad_request, too_large

#: Files of these purposes must be JSON Lines, named ``*.jsonl``.
JSONL_PURPOSES: Final = frozenset({"batch", "fine-tune"})
#: ``batch`` files expire after 30 days unless told otherwise (``FileExpirationAfter``).
BATCH_DEFAULT_EXPIRY: Final = 30 * 24 * 3600


@attrs.frozen(kw_only=True)
class Settings:
    """How one server behaves; every field is an option of ``create_app``."""

    api_key: str | None = attrs.field(default=None, repr=False)
    """The only key accepted, or None to accept any non-empty key."""
    file_limit: int = SIMPLE_UPLOAD_LIMIT
    """Largest file ``POST /files`` accepts."""
    batch_file_limit: int = BATCH_FILE_LIMIT
    """Largest ``batch`` file."""
    part_limit: int = UPLOAD_PART_LIMIT
    """Largest Part of an Upload."""
    upload_limit: int = UPLOAD_LIMIT
    """Largest file an Upload assembles."""
    upload_expiry: int = UPLOAD_EXPIRY_SECONDS
    """Seconds an Upload stays open."""
    processing_delay: float = 1.0
    """Seconds a file made on the Azure routes stays ``pending`` then ``running``."""
    clock: Callable[[], float] = time.time
    """The wall clock, in seconds: tests pass a fake one to see expiry and the lifecycle."""

    def limit_for(self, purpose: str | None) -> int:
        """The largest file of ``purpose`` (the general limit while the purpose is unknown)."""
        return self.batch_file_limit if purpose == "batch" else self.file_limit


def check_purpose(purpose: str | None, allowed: frozenset[str]) -> str:
    """Returns ``purpose`` if it is one of ``allowed``.

    Raises:
        ApiError: 400 naming the purposes accepted.
    """
    if not purpose:
        raise bad_request("Missing required parameter: 'purpose'.", "purpose")
    if purpose not in allowed:
        raise bad_request(
            f"Invalid value for 'purpose': {purpose!r}. Supported values are: "
            + ", ".join(repr(p) for p in sorted(allowed))
            + ".",
            "purpose",
        )
    return purpose


def check_file(settings: Settings, purpose: str, filename: str, size: int | None) -> None:
    """Checks a file's name, and its size once known, against the rules of its purpose.

    Raises:
        ApiError: 400 for a name the purpose does not accept, 413 for a file too large.
    """
    if purpose in JSONL_PURPOSES and not filename.lower().endswith(".jsonl"):
        raise bad_request(
            f"Invalid file format for purpose {purpose!r}: the file must be a .jsonl file "
            f"(got {filename!r}).",
            "file",
        )
    limit = settings.limit_for(purpose)
    if size is not None and size > limit:
        raise too_large(f"A {purpose} file", limit)


def check_expires_anchor(anchor: object) -> None:
    """Raises a 400 ``ApiError`` unless ``anchor`` is ``created_at``."""
    if anchor != "created_at":
        raise bad_request(
            f"Invalid value for 'expires_after.anchor': {anchor!r}. Supported values are: "
            "'created_at'.",
            "expires_after.anchor",
        )


def check_expires_seconds(seconds: object) -> int:
    """Returns ``seconds`` (an integer, or its decimal text) if it is within bounds.

    Raises:
        ApiError: 400 otherwise.
    """
    value: int | None = None
    if isinstance(seconds, int) and not isinstance(seconds, bool):
        value = seconds
    elif isinstance(seconds, str) and seconds.strip().isdecimal():
        value = int(seconds)
    if value is None or not EXPIRES_AFTER_MIN <= value <= EXPIRES_AFTER_MAX:
        raise bad_request(
            f"Invalid value for 'expires_after.seconds': {seconds!r}. It must be an integer "
            f"between {EXPIRES_AFTER_MIN} and {EXPIRES_AFTER_MAX}.",
            "expires_after.seconds",
        )
    return value


def expires_at(created_at: int, purpose: str, seconds: int | None) -> int | None:
    """When a file expires: ``seconds`` after creation, 30 days for ``batch``, else never."""
    if seconds is None and purpose == "batch":
        seconds = BATCH_DEFAULT_EXPIRY
    return None if seconds is None else created_at + seconds


def expires_after_seconds(anchor: object, seconds: object) -> int | None:
    """The ``seconds`` of an ``expires_after`` policy, or None when none was given.

    Raises:
        ApiError: 400 when the policy is incomplete or invalid.
    """
    if anchor is None and seconds is None:
        return None
    for name, value in (("anchor", anchor), ("seconds", seconds)):
        if value is None:
            raise bad_request(
                f"Missing required parameter: 'expires_after.{name}'.", f"expires_after.{name}"
            )
    check_expires_anchor(anchor)
    return check_expires_seconds(seconds)
