"""The plan of a large upload: its Parts cover the file exactly, in order, each within the
limit; the threshold is clamped; each refusal leads to one choice, and a start-over happens
once; pure, no event loop."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

import aikit_files as af
from aikit_files._limits import SIMPLE_UPLOAD_LIMIT
from aikit_files._params import FileParameters, merge
from aikit_files._protocol.plan import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_PART_SIZE,
    MAX_PARTS,
    Next,
    PartsProgress,
    Step,
    after_refusal,
    check_expiry_allowed,
    goes_in_parts,
    plan_parts,
    plan_upload,
)

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


@pytest.mark.parametrize(("size", "part_size"), [(0, MiB), (MAX_PARTS + 1, 1)])
def test_plans_that_cannot_be_are_refused(size: int, part_size: int) -> None:
    with pytest.raises(af.InvalidArgumentError):
        plan_parts(size, part_size)


@pytest.mark.parametrize(
    ("part_size", "error"),
    [
        (0, af.InvalidArgumentError),
        (64 * MiB + 1, af.InvalidArgumentError),
        (1.5, af.InvalidArgumentTypeError),
        (True, af.InvalidArgumentTypeError),
    ],
)
def test_part_size_is_checked_with_the_parameters(
    part_size: object, error: type[Exception]
) -> None:
    # NOTE: checked once, there; the plan takes it as checked.
    with pytest.raises(error):
        merge(FileParameters, None, {"part_size": part_size})


@given(st.integers(0, 10 * 1024 * MiB) | st.none(), st.integers(0, 2 * 1024 * MiB) | st.none())
def test_the_threshold_is_clamped_to_the_simple_upload_limit(
    size: int | None, threshold: int | None
) -> None:
    expected = size is not None and size > min(
        SIMPLE_UPLOAD_LIMIT if threshold is None else threshold, SIMPLE_UPLOAD_LIMIT
    )
    assert goes_in_parts(size, threshold) is expected
    if size is not None and size > SIMPLE_UPLOAD_LIMIT:
        assert goes_in_parts(size, threshold), "POST /files takes no more than 512 MiB"


@given(
    st.integers(1, 8 * 1024 * MiB),
    st.integers(1, 64 * MiB) | st.none(),
    st.integers(1, 64) | st.none(),
    st.booleans(),
)
def test_the_plan_takes_the_defaults_and_bounds_its_concurrency(
    size: int, part_size: int | None, max_concurrency: int | None, one_reader: bool
) -> None:
    try:
        plan = plan_upload(size, part_size, max_concurrency, one_reader=one_reader)
    except af.InvalidArgumentError:
        assert -(-size // (part_size or DEFAULT_PART_SIZE)) > MAX_PARTS
        return
    assert plan.part_size == (part_size or DEFAULT_PART_SIZE)
    assert plan.parts == plan_parts(size, plan.part_size)
    wanted = 1 if one_reader else (max_concurrency or DEFAULT_MAX_CONCURRENCY)
    assert plan.concurrency == min(wanted, len(plan.parts))
    done = frozenset(range(0, len(plan.parts), 2))
    assert plan.bytes_of(done) + sum(p.length for p in plan.missing(done)) == size


def test_azure_uploads_take_no_expires_after() -> None:
    expiry = af.ExpiresAfter(seconds=3600)
    check_expiry_allowed("openai", expiry)
    check_expiry_allowed("azure", None)
    with pytest.raises(af.InvalidArgumentError, match="expires_after"):
        check_expiry_allowed("azure", expiry)


@given(
    st.sampled_from(Step),
    st.sampled_from([400, 401, 404, 409, 429, 500, 503]),
    st.sampled_from([None, "md5", "part_ids"]),
    st.booleans(),
    st.booleans(),
)
def test_every_refusal_has_one_answer_and_a_start_over_happens_once(
    step: Step, status: int, param: str | None, resumed: bool, started_over: bool
) -> None:
    then = after_refusal(step, status, param, resumed=resumed, started_over=started_over)
    if status not in (400, 404):
        assert then is Next.FAIL  # not a verdict on the Upload: retried, or the call's error
    elif resumed and not started_over:
        # A stale journal: start over, looking first for a file an earlier run made, unless
        # the server said the Parts are not the source's (so none was made).
        md5 = step is Step.COMPLETE and param == "md5"
        assert then is (Next.START_OVER if md5 else Next.LOOK_THEN_START_OVER)
    else:
        # A fresh Upload never starts over: no loop.
        assert then in (Next.FAIL, Next.LOOK_THEN_FAIL)
        assert (then is Next.LOOK_THEN_FAIL) == (step is Step.COMPLETE and param != "md5")


@given(st.data())
def test_progress_counts_each_byte_once_whatever_the_order_and_the_retries(
    data: st.DataObject,
) -> None:
    plan = plan_upload(data.draw(st.integers(1, 5000)), 512, 3, one_reader=False)
    told: list[tuple[int, int]] = []
    progress = PartsProgress(lambda sent, total: told.append((sent, total)), plan.size)
    for span in data.draw(st.permutations(plan.parts)):
        report = progress.of_part(span.number)
        for sent in data.draw(st.lists(st.integers(0, span.length))):  # attempts, retries
            report(sent, span.length)
        progress.part_done(span.number, span.length)
    assert told[-1] == (plan.size, plan.size)
    assert all(0 <= sent <= plan.size for sent, _ in told)
