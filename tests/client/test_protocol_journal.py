"""The journal of a resumable upload, read back: usable when it fits the run exactly, otherwise
discarded with one reason (and the Upload to cancel when its id can be trusted); pure, no
event loop."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aikit_files._protocol.journal import (
    EXPIRY_MARGIN,
    LONGEST_UPLOAD_LIFE,
    Discarded,
    DonePart,
    Journal,
    read_journal,
)
from aikit_files._protocol.plan import UploadPlan, plan_upload

NOW = 1_800_000_000.0
PLAN: UploadPlan = plan_upload(10 * 1024 + 7, 1024, 2, one_reader=False)  # 11 Parts
MTIME = 1_700_000_000_123_456_789
GOOD = Journal(
    upload_id="upload_abc",
    created_at=int(NOW) - 60,
    expires_at=int(NOW) + 3000,
    size=PLAN.size,
    mtime_ns=MTIME,
    part_size=PLAN.part_size,
    parts=(DonePart(0, "part_a"), DonePart(3, "part_b")),
)


def read(journal: Journal | dict[str, Any] | bytes) -> Journal | Discarded:
    raw = (
        journal
        if isinstance(journal, bytes)
        else json.dumps(journal).encode()
        if isinstance(journal, dict)
        else journal.to_json()
    )
    return read_journal(raw, PLAN, MTIME, NOW)


def test_a_journal_that_fits_is_used_as_written() -> None:
    assert read(GOOD) == GOOD
    assert GOOD.done() == frozenset({0, 3})
    assert GOOD.part_ids() == ["part_a", "part_b"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "not a journal"),
        (b"{not json", "not a journal"),
        (b"[]", "not a journal"),
        (json.dumps({"upload_id": "upload_abc"}).encode(), "not a journal"),
        (json.dumps({**json.loads(GOOD.to_json()), "size": "big"}).encode(), "not a journal"),
    ],
)
def test_a_journal_that_cannot_be_read_is_discarded(raw: bytes, reason: str) -> None:
    found = read(raw)
    assert isinstance(found, Discarded)
    assert reason in found.reason
    assert found.upload_id is None


@pytest.mark.parametrize(
    ("change", "reason", "cancel"),
    [
        # An upload id that would reach another route (or climb) is not trusted, nor cancelled.
        ({"upload_id": "upload_abc/../../files/file-x"}, "'/'", False),
        ({"upload_id": ""}, "empty", False),
        ({"upload_id": "upload\n"}, "control", False),
        ({"size": PLAN.size + 1}, "source changed", True),
        ({"mtime_ns": MTIME + 1}, "source changed", True),
        ({"part_size": 2048}, "Parts are of 2048 bytes", True),
        ({"expires_at": int(NOW) + EXPIRY_MARGIN - 1}, "expires too soon", True),
        ({"expires_at": int(NOW) - 5}, "expires too soon", True),
        ({"expires_at": int(NOW) - 600}, "dates make no sense", True),
        # An expiry no Upload has (a year away): never believed, so never stuck on it.
        ({"expires_at": int(NOW) + 365 * 86400}, "dates make no sense", True),
        (
            {"created_at": int(NOW) + 86400, "expires_at": int(NOW) + 86400 + 3600},
            "dates make no sense",
            True,
        ),
        ({"parts": (DonePart(0, "part_a"), DonePart(0, "part_b"))}, "a Part twice", True),
        ({"parts": (DonePart(11, "part_a"),)}, "outside the plan", True),
        ({"parts": (DonePart(-1, "part_a"),)}, "outside the plan", True),
        ({"parts": (DonePart(1, "part_a"), DonePart(2, "part_a"))}, "Part id twice", True),
        ({"parts": (DonePart(1, "part/x"),)}, "'/'", True),
    ],
)
def test_a_journal_that_does_not_fit_is_discarded_with_its_reason(
    change: dict[str, Any], reason: str, cancel: bool
) -> None:
    found = read(attrs.evolve(GOOD, **change))
    assert isinstance(found, Discarded)
    assert reason in found.reason
    assert found.upload_id == (GOOD.upload_id if cancel else None)


@given(
    st.integers(-(2**40), 2**40),
    st.integers(-(2**40), 2**40),
    st.lists(st.tuples(st.integers(-5, 20), st.sampled_from(["part_a", "part_b", "p/x", ""]))),
)
def test_a_usable_journal_is_always_a_sound_one(
    created_at: int, expires_at: int, parts: list[tuple[int, str]]
) -> None:
    journal = attrs.evolve(
        GOOD,
        created_at=int(NOW) + created_at,
        expires_at=int(NOW) + expires_at,
        parts=tuple(DonePart(n, i) for n, i in parts),
    )
    found = read(journal)
    if isinstance(found, Journal):
        assert found.expires_at > NOW + EXPIRY_MARGIN
        assert 0 < found.expires_at - found.created_at <= LONGEST_UPLOAD_LIFE
        numbers = [p.number for p in found.parts]
        assert len(set(numbers)) == len(numbers)
        assert all(0 <= n < len(PLAN.parts) for n in numbers)
        assert len({p.id for p in found.parts}) == len(found.parts)
        assert all(p.id and "/" not in p.id for p in found.parts)
    else:
        assert found.reason
