"""Facts of the Files API shared by the client and the local server: sizes, bounds, purposes."""

from __future__ import annotations

from typing import Final

# NOTE: the APIs document these limits in "MB"/"GB"; we read them as binary units, the more
# lenient reading, so that a file of exactly 512 MiB is accepted by the simple upload (and
# Azure's "9 GB" Upload is 9 GiB, as OpenAI's "8 GB" is 8 GiB).
MiB: Final = 1024 * 1024
GiB: Final = 1024 * MiB

#: Largest file accepted by ``POST /files``.
SIMPLE_UPLOAD_LIMIT: Final = 512 * MiB
#: Largest ``batch`` file accepted by ``POST /files``.
BATCH_FILE_LIMIT: Final = 200 * MiB
#: Longest line of a JSON Lines file that the local server reads (and ``check_file`` accepts).
JSONL_LINE_LIMIT: Final = 16 * MiB
#: Largest part accepted by ``POST /uploads/{id}/parts``.
UPLOAD_PART_LIMIT: Final = 64 * MiB
#: Largest file assembled by the Uploads API.
UPLOAD_LIMIT: Final = 8 * GiB
#: The total size of the files the local server stores unless told otherwise (OpenAI limits an
#: organization's, or now a project's, files to a few TB).
MAX_STORAGE: Final = 1024 * GiB
#: Seconds an Upload stays open after it is created.
UPLOAD_EXPIRY_SECONDS: Final = 3600

# Azure OpenAI's Uploads (API version 2024-10-21) differ from OpenAI's in their limits.
#: Azure: largest file assembled by the Uploads API.
AZURE_UPLOAD_LIMIT: Final = 9 * GiB
#: Azure: seconds an Upload stays open after it is created (two hours).
AZURE_UPLOAD_EXPIRY_SECONDS: Final = 7200
#: Azure: largest Part, "the standard size limit for file upload, based on the File Purpose":
#: the simple-upload limit (the file of a ``batch`` Upload is a batch file, at most
#: ``BATCH_FILE_LIMIT`` in all, so none of its Parts can be larger than that).
AZURE_UPLOAD_PART_LIMIT: Final = SIMPLE_UPLOAD_LIMIT
#: Bounds of ``expires_after.seconds``.
EXPIRES_AFTER_MIN: Final = 3600
EXPIRES_AFTER_MAX: Final = 2_592_000
#: Bounds of ``limit`` when listing files; the server's default is the maximum.
LIST_LIMIT_MIN: Final = 1
LIST_LIMIT_MAX: Final = 10_000

#: The purposes ``POST /files`` accepts on OpenAI.
KNOWN_PURPOSES: Final = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")

#: The largest file of each purpose that has a limit of its own, below the API's limit for every
#: file. NOTE: the only one the API documents is ``batch``: "The Batch API only supports
#: ``.jsonl`` files up to 200 MB in size" (specs/openai-openapi.yaml, ``POST /files`` and the
#: Batch's ``input_file_id``; also platform.openai.com/docs/api-reference/files/create). The
#: others are documented in tokens (assistants: 2 million) or not at all (fine-tune, vision,
#: user_data, evals), which a client cannot count: the server decides those.
PURPOSE_LIMITS: Final = {"batch": BATCH_FILE_LIMIT}

#: The units of ``human_size``, each 1024 times the one before.
_UNITS: Final = ("bytes", "KiB", "MiB", "GiB", "TiB")


def human_size(count: int) -> str:
    """A number of bytes for people, exact where it matters: ``512 bytes``,
    ``1.5 GiB (1,610,612,736 bytes)``."""
    if abs(count) < 1024:
        return f"{count:,} bytes"
    value = float(count)
    place = 1
    while abs(value) >= 1024 and place < len(_UNITS):
        value /= 1024
        place += 1
    unit = _UNITS[place - 1]
    shown = f"{value:.1f}".removesuffix(".0")
    return f"{shown} {unit} ({count:,} bytes)"


def purpose_limit_error(purpose: str, size: int) -> str | None:
    """Why a file of ``size`` bytes is too large for ``purpose``, or None when it is not."""
    limit = PURPOSE_LIMITS.get(purpose)
    if limit is None or size <= limit:
        return None
    return (
        f"the file holds {human_size(size)}, more than the API accepts for purpose "
        f"{purpose!r} ({human_size(limit)})"
    )
