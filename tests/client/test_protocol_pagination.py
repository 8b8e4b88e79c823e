"""Cursor pagination, pure: the cursor moves on, filters are kept, the last page ends it, and
pages that come back around (at once, or A, B, A) end it with an ``APIError``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import aikit_files as af
from aikit_files._protocol.pagination import Pages


def page(*ids: str, has_more: bool, last_id: str | None = None) -> af.FileList:
    return af.FileList(
        data=[af.OpenAIFile(id=i) for i in ids],
        first_id=ids[0] if ids else None,
        last_id=last_id if last_id is not None else (ids[-1] if ids else None),
        has_more=has_more,
    )


def test_the_cursor_moves_on_and_the_filters_are_kept() -> None:
    pages = Pages(af.FileListParameters(purpose="batch", limit=2, order="asc"))
    pages.advance(page("a", "b", has_more=True))
    following = pages.params
    assert following is not None
    assert (following.purpose, following.limit, following.order, following.after) == (
        "batch",
        2,
        "asc",
        "b",
    )


@pytest.mark.parametrize("last", [page("a", has_more=False), page(has_more=True)])
def test_the_last_page_ends_it(last: af.FileList) -> None:
    pages = Pages(af.FileListParameters())
    pages.advance(last)
    assert pages.params is None
    with pytest.raises(ValueError, match="last page came already"):
        pages.advance(last)


def test_without_a_last_id_the_cursor_is_the_last_file() -> None:
    pages = Pages(af.FileListParameters())
    pages.advance(af.FileList(data=[af.OpenAIFile(id="a"), af.OpenAIFile(id="b")], has_more=True))
    assert pages.params is not None
    assert pages.params.after == "b"


def test_a_page_that_repeats_at_once_is_an_error() -> None:
    pages = Pages(af.FileListParameters(after="b"))
    with pytest.raises(af.APIError, match="the same page again"):
        pages.advance(page("a", "b", has_more=True))


def test_pages_that_come_back_around_are_an_error() -> None:
    pages = Pages(af.FileListParameters())
    pages.advance(page("a1", "a2", has_more=True))
    pages.advance(page("b1", "b2", has_more=True))
    with pytest.raises(af.APIError, match="pages that come back around") as caught:
        pages.advance(page("a1", "a2", has_more=True))
    assert "after='a2'" in str(caught.value)


@given(st.integers(min_value=2, max_value=30), st.integers(min_value=0, max_value=29))
def test_any_loop_is_caught_within_one_turn(length: int, back_to: int) -> None:
    # The server's pages go 0, 1, ..., length - 1, then back to page ``back_to``, forever.
    back_to %= length
    order = list(range(length)) + [back_to + i % (length - back_to) for i in range(length)]
    pages = Pages(af.FileListParameters())

    def fetched_before_the_error() -> int:
        for fetched, index in enumerate(order):
            try:
                pages.advance(page(f"f{index}", has_more=True))
            except af.APIError:
                return fetched
        raise AssertionError("the loop was never caught")

    assert fetched_before_the_error() == length


@given(st.lists(st.text(min_size=1, max_size=8), unique=True, max_size=50))
def test_distinct_cursors_never_raise(cursors: list[str]) -> None:
    pages = Pages(af.FileListParameters())
    for cursor in cursors:
        pages.advance(page(cursor, has_more=True))
    assert pages.params is not None
    assert pages.params.after == (cursors[-1] if cursors else None)
