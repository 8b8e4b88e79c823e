"""Facts of the Files API shared by the client and the local server: sizes, bounds, purposes."""

from __future__ import annotations

from typing import Final

# NOTE: the API documents these limits in "MB"/"GB"; we read them as binary units, the more
# lenient reading, so that a file of exactly 512 MiB is accepted by the simple upload.
MiB: Final = 1024 * 1024
GiB: Final = 1024 * MiB

#: Largest file accepted by ``POST /files``.
SIMPLE_UPLOAD_LIMIT: Final = 512 * MiB
#: Largest ``batch`` file accepted by ``POST /files``.
BATCH_FILE_LIMIT: Final = 200 * MiB
#: Largest part accepted by ``POST /uploads/{id}/parts``.
UPLOAD_PART_LIMIT: Final = 64 * MiB
#: Largest file assembled by the Uploads API.
UPLOAD_LIMIT: Final = 8 * GiB
#: The total size of the files the local server stores unless told otherwise (OpenAI limits an
#: organization's, or now a project's, files to a few TB).
MAX_STORAGE: Final = 1024 * GiB
#: Seconds an Upload stays open after it is created.
UPLOAD_EXPIRY_SECONDS: Final = 3600
#: Bounds of ``expires_after.seconds``.
EXPIRES_AFTER_MIN: Final = 3600
EXPIRES_AFTER_MAX: Final = 2_592_000
#: Bounds of ``limit`` when listing files; the server's default is the maximum.
LIST_LIMIT_MIN: Final = 1
LIST_LIMIT_MAX: Final = 10_000

#: The purposes ``POST /files`` accepts on OpenAI.
KNOWN_PURPOSES: Final = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")

#: Azure's figures where they differ from OpenAI's (its spec: an Upload holds up to 9 GB and
#: expires two hours after it is created; a Part may be as large as a file of its purpose).
AZURE_UPLOAD_LIMIT: Final = 9 * GiB
AZURE_UPLOAD_EXPIRY_SECONDS: Final = 7200
