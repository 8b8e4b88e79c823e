"""Cursor pagination of ``GET /files``: from one page to the parameters of the next, refusing a
server whose pages loop."""

from __future__ import annotations

import attrs

from aikit_files._exceptions import APIError
from aikit_files._models import FileList
from aikit_files._params import FileListParameters


class Pages:
    """Where an iteration over the pages of ``GET /files`` stands.

    ``params`` are those of the next page to fetch (None once the last page came). The cursors
    followed so far are kept, one per page, so that a server whose pages come back around
    (A, B, A...: a hostile or broken one) ends the iteration with an error instead of looping
    forever; a page repeated at once is the shortest such loop.

    Args:
        params: the parameters of the first page.
    """

    def __init__(self, params: FileListParameters) -> None:
        self.params: FileListParameters | None = params
        self._followed: set[str] = set() if params.after is None else {params.after}

    def __repr__(self) -> str:
        return f"Pages(next={self.params!r}, followed={len(self._followed)})"

    def advance(self, page: FileList) -> None:
        """Moves on from ``page``, the page ``params`` fetched.

        The cursor is the page's ``last_id`` (or, if the server left it out, the id of its last
        file); the filters, the order and the limit are kept.

        Raises:
            APIError: the server says more files follow but gave a cursor already followed:
                its pages loop.
        """
        if self.params is None:
            raise ValueError("the last page came already")
        if not page.has_more or not page.data:
            self.params = None
            return
        cursor = page.last_id or page.data[-1].id
        if cursor in self._followed:
            what = (
                "the same page again"
                if cursor == self.params.after
                else "pages that come back around"
            )
            raise APIError(
                f"the server returned {what} (after={cursor!r} was followed already, "
                f"{len(self._followed)} pages in): listing it further would loop forever"
            )
        self._followed.add(cursor)
        self.params = attrs.evolve(self.params, after=cursor)
