"""The plan of a large upload: its Parts cover the file exactly, in order, each within the
limit; pure, no event loop."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

import aikit_files as af
from aikit_files._protocol.plan import MAX_PARTS, plan_parts

MiB = 1024 * 1024


@st.composite
def sizes_and_part_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, 9 * 1024 * MiB))
    smallest = -(-size // MAX_PARTS)
    return size, draw(st.integers(min(smallest, 64 * MiB), 64 * MiB))


@given(sizes_and_part_sizes())
def test_parts_cover_the_file_exactly_in_order(plan: tuple[int, int]) -> None:
    size, part_size = plan
    parts = plan_parts(size, part_size)
    assert [p.number for p in parts] == list(range(len(parts)))
    assert parts[0].offset == 0
    for before, after in itertools.pairwise(parts):
        assert after.offset == before.offset + before.length
    assert parts[-1].offset + parts[-1].length == size
    assert all(1 <= p.length <= part_size for p in parts)
    assert all(p.length == part_size for p in parts[:-1])
    assert len(parts) == -(-size // part_size)


def test_eight_gib_in_parts_of_64_mib() -> None:
    parts = plan_parts(8 * 1024 * MiB, 64 * MiB)
    assert len(parts) == 128
    assert parts[-1].offset == 127 * 64 * MiB


@pytest.mark.parametrize(
    ("size", "part_size", "error"),
    [
        (0, MiB, af.InvalidArgumentError),
        (10, 0, af.InvalidArgumentError),
        (10, 64 * MiB + 1, af.InvalidArgumentError),
        (10, 1.5, af.InvalidArgumentTypeError),
        (10, True, af.InvalidArgumentTypeError),
        (MAX_PARTS + 1, 1, af.InvalidArgumentError),
    ],
)
def test_bad_plans_are_refused(size: int, part_size: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        plan_parts(size, part_size)  # type: ignore[arg-type]
