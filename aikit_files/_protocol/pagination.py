"""Cursor pagination of ``GET /files``: from one page to the parameters of the next."""

from __future__ import annotations

import attrs

from aikit_files._exceptions import APIError
from aikit_files._models import FileList
from aikit_files._params import FileListParameters


def next_page(params: FileListParameters, page: FileList) -> FileListParameters | None:
    """The parameters of the page after ``page``, or None when ``page`` is the last one.

    The cursor is the page's ``last_id`` (or, if the server left it out, the id of its last
    file); the filters, the order and the limit are kept.

    Raises:
        APIError: the server says more files follow but gave the cursor it was just sent,
            which would loop forever.
    """
    if not page.has_more or not page.data:
        return None
    cursor = page.last_id or page.data[-1].id
    if cursor == params.after:
        raise APIError(f"the server returned the same page again (after={cursor!r})")
    return attrs.evolve(params, after=cursor)
