"""The server's settings, and the rules a request's values follow.

They cover a new file's purpose, name, size and expiry, an Upload's size, an import's URL and a
listing's page. Each rule is a pure function that returns the value checked (converted where the wire sends
text) or raises the ``ApiError`` that refuses it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Final

import attrs
import yarl

from aikit_files._limits import (
    AZURE_UPLOAD_EXPIRY_SECONDS,
    AZURE_UPLOAD_LIMIT,
    BATCH_FILE_LIMIT,
    EXPIRES_AFTER_MAX,
    EXPIRES_AFTER_MIN,
    LIST_LIMIT_MAX,
    LIST_LIMIT_MIN,
    MAX_STORAGE,
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
#: An integer as the wire writes it: ASCII digits only (``str.isdecimal`` takes any script's),
#: and few enough that ``int`` never meets Python's limit on long conversions.
_INTEGER: Final = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)


def parse_integer(text: str) -> int | None:
    """The integer ``text`` writes in ASCII digits (an optional sign, spaces around), or None."""
    stripped = text.strip(" \t")
    return int(stripped) if _INTEGER.fullmatch(stripped) else None


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
    """Largest Part of an Upload on the OpenAI routes (on Azure's, a Part may be as large as a
    file of the Upload's purpose: ``file_limit``, or ``batch_file_limit``)."""
    upload_limit: int = UPLOAD_LIMIT
    """Largest file an Upload assembles on the OpenAI routes."""
    azure_upload_limit: int = AZURE_UPLOAD_LIMIT
    """Largest file an Upload assembles on the Azure routes."""
    upload_expiry: int = UPLOAD_EXPIRY_SECONDS
    """Seconds an Upload stays open on the OpenAI routes (on Azure's, two hours:
    ``AZURE_UPLOAD_EXPIRY_SECONDS``, which tests reach by moving ``clock``)."""
    max_storage: int = MAX_STORAGE
    """What the files stored and the Parts of pending Uploads may hold in all: an upload, a Part
    (or an import) that would pass it is refused, as OpenAI refuses one past its storage
    limit."""
    idle_timeout: float = 60.0
    """Seconds a connection may send nothing, in a request's head or its body, or between two
    requests, before it is closed (and its partial upload removed)."""
    allow_private_import: bool = False
    """Whether ``files/import`` may fetch from hosts that resolve to loopback, private,
    link-local, multicast or reserved addresses (at every redirect hop)."""
    import_timeout: float = 300.0
    """Seconds a ``files/import`` fetch may take in all (redirects and every byte); past it the
    file ends in ``error`` saying so."""
    processing_delay: float = 1.0
    """Seconds a file made on the Azure routes stays ``pending`` then ``running``."""
    clock: Callable[[], float] = time.time
    """The wall clock, in seconds: tests pass a fake one to see expiry and the lifecycle."""

    def limit_for(self, purpose: str | None) -> int:
        """The largest file of ``purpose`` (the general limit while the purpose is unknown)."""
        return self.batch_file_limit if purpose == "batch" else self.file_limit

    def upload_limit_for(self, purpose: str, *, azure: bool) -> int:
        """The largest file of ``purpose`` that an Upload may assemble, on the Azure routes or
        on OpenAI's."""
        if purpose == "batch":
            return self.batch_file_limit
        return self.azure_upload_limit if azure else self.upload_limit

    def part_limit_for(self, purpose: str, *, azure: bool) -> int:
        """The largest Part of an Upload of ``purpose``: OpenAI's Part limit, or on the Azure
        routes the limit of a file of that purpose."""
        return self.limit_for(purpose) if azure else self.part_limit

    def upload_expiry_for(self, *, azure: bool) -> int:
        """Seconds an Upload stays open after it is created."""
        return AZURE_UPLOAD_EXPIRY_SECONDS if azure else self.upload_expiry


def check_purpose(purpose: object, allowed: frozenset[str]) -> str:
    """Returns ``purpose`` if it is one of ``allowed``.

    Raises:
        ApiError: 400 naming the purposes accepted.
    """
    if purpose is None or purpose == "":
        raise bad_request("Missing required parameter: 'purpose'.", "purpose")
    if not isinstance(purpose, str) or purpose not in allowed:
        raise bad_request(
            f"Invalid value for 'purpose': {purpose!r}. Supported values are: "
            + ", ".join(repr(p) for p in sorted(allowed))
            + ".",
            "purpose",
        )
    return purpose


def check_file(
    settings: Settings, purpose: str, filename: str, size: int | None, *, param: str = "file"
) -> None:
    """Checks a file's name, and its size once known, against the rules of its purpose.

    Args:
        settings: The server's settings (its limits).
        purpose: The file's purpose, already checked.
        filename: Its name.
        size: Its size, or None while it is not known.
        param: The request's field that gave the name: a form's ``file``, or the
            ``filename`` of a JSON body (an Upload's, an import's).

    Raises:
        ApiError: 400 for a name the purpose does not accept, 413 for a file too large.
    """
    if purpose in JSONL_PURPOSES and not filename.lower().endswith(".jsonl"):
        raise bad_request(
            f"Invalid file format for purpose {purpose!r}: the file must be a .jsonl file "
            f"(got {filename!r}).",
            param,
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
    elif isinstance(seconds, str):
        value = parse_integer(seconds)
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


def check_expires_after(policy: object) -> int | None:
    """The ``seconds`` of a JSON ``expires_after`` object, or None when there is none.

    Raises:
        ApiError: 400 when it is not an object, or not a valid policy.
    """
    if policy is not None and not isinstance(policy, dict):
        raise bad_request("'expires_after' must be an object.", "expires_after")
    fields = policy or {}
    return expires_after_seconds(fields.get("anchor"), fields.get("seconds"))


def check_expires_after_text(text: str) -> int | None:
    """The ``seconds`` of an ``expires_after`` form field sent as JSON (OpenAPI 3.1's default
    encoding of an object field of a multipart form).

    Raises:
        ApiError: 400 when it is not a JSON object, or not a valid policy.
    """
    try:
        policy = json.loads(text)
    except (ValueError, RecursionError):
        raise bad_request("'expires_after' must be a JSON object.", "expires_after") from None
    return check_expires_after(policy)


def check_upload_bytes(settings: Settings, purpose: str, size: object, *, azure: bool) -> int:
    """Returns ``size``, the ``bytes`` announced by a new Upload of ``purpose``.

    Raises:
        ApiError: 400 unless it is a non-negative integer within the Upload limit of the
            flavour (``azure`` or not).
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise bad_request("'bytes' must be a non-negative integer.", "bytes")
    limit = settings.upload_limit_for(purpose, azure=azure)
    if size > limit:
        raise bad_request(f"'bytes' exceeds the maximum size of {limit} bytes.", "bytes")
    return size


def check_content_url(value: object) -> yarl.URL:
    """The URL an import fetches its content from.

    Raises:
        ApiError: 400 unless it is an http or https URL with a host.
    """
    try:
        url = yarl.URL(value) if isinstance(value, str) else None
    except ValueError:  # yarl refuses some malformed URLs outright: "http://[::1"
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise bad_request("'content_url' must be an http or https URL.", "content_url")
    return url


def check_limit(text: str | None) -> int:
    """The page size a listing asks for (the largest when it does not say).

    Raises:
        ApiError: 400 unless it is an integer within bounds.
    """
    text = str(LIST_LIMIT_MAX) if text is None else text
    limit = parse_integer(text)
    if limit is None or not LIST_LIMIT_MIN <= limit <= LIST_LIMIT_MAX:
        raise bad_request(
            f"Invalid value for 'limit': {text!r}. It must be an integer between "
            f"{LIST_LIMIT_MIN} and {LIST_LIMIT_MAX}.",
            "limit",
        )
    return limit


def check_order(text: str | None) -> str:
    """The order of a listing: ``desc`` (newest first, when it does not say) or ``asc``.

    Raises:
        ApiError: 400 for any other value.
    """
    order = "desc" if text is None else text
    if order not in ("asc", "desc"):
        raise bad_request(
            f"Invalid value for 'order': {order!r}. Supported values are: 'asc', 'desc'.", "order"
        )
    return order
