"""Identifiers the server hands out, and the strict patterns a path segment must match.

A path id is checked against these patterns before anything touches the disk, so no
client-supplied text ever becomes part of a path.

File ids carry their position in the listing order: ``file-`` then 8 hex digits of
``created_at``, 12 of a per-server sequence number and 12 random ones. Sorting ids as strings
sorts files by ``(created_at, sequence)``, a total order, and an ``after`` cursor keeps its place
even when the file it names has since been deleted.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

FILE_ID: Final = re.compile(r"file-[0-9a-f]{32}")
UPLOAD_ID: Final = re.compile(r"upload_[0-9a-f]{32}")
PART_ID: Final = re.compile(r"part_[0-9a-f]{32}")

_SEQUENCE = slice(13, 25)


def new_file_id(created_at: int, sequence: int) -> str:
    """A new file id that sorts after every id with a smaller ``(created_at, sequence)``."""
    return f"file-{created_at:08x}{sequence:012x}{secrets.token_hex(6)}"


def file_sequence(file_id: str) -> int:
    """The sequence number a file id (already matched by ``FILE_ID``) was made with."""
    return int(file_id[_SEQUENCE], 16)


def new_request_id() -> str:
    """A fresh id for a response's ``x-request-id`` header, as OpenAI sends on every answer."""
    return f"req_{secrets.token_hex(16)}"


def new_upload_id() -> str:
    """A new, random Upload id."""
    return f"upload_{secrets.token_hex(16)}"


def new_part_id(created_at: int) -> str:
    """A new Part id: 8 hex digits of ``created_at``, then 24 random ones."""
    return f"part_{created_at:08x}{secrets.token_hex(12)}"
