"""The journal on disk: written atomically and read back as written, and its lock: one holder
at a time, a clear error for the second, nothing left once let go."""

from __future__ import annotations

import pathlib

import pytest

import aikit_files as af
from aikit_files._io import journal as journals
from aikit_files._protocol.journal import DonePart, Journal, read_journal
from aikit_files._protocol.plan import plan_upload

PLAN = plan_upload(3000, 1024, None, one_reader=False)
JOURNAL = Journal(
    upload_id="upload_1",
    created_at=1000,
    expires_at=4000,
    size=3000,
    mtime_ns=7,
    part_size=1024,
    parts=(DonePart(1, "part_1"),),
)


def test_a_saved_journal_reads_back_as_written(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "j.json"
    assert journals.read(path) is None
    journals.save(path, JOURNAL)
    raw = journals.read(path)
    assert raw is not None
    assert read_journal(raw, PLAN, 7, now=1100) == JOURNAL
    assert [p.name for p in tmp_path.iterdir()] == ["j.json"], "no temporary file is left"
    journals.remove(path)
    journals.remove(path)
    assert journals.read(path) is None


def test_one_run_at_a_time_holds_the_lock(tmp_path: pathlib.Path) -> None:
    # NOTE: flock belongs to an open file, so two locks of one process conflict as two
    # processes' do (the test with two processes is in test_resume.py).
    path = tmp_path / "deep" / "j.json"
    first, second = journals.JournalLock(path), journals.JournalLock(path)
    first.acquire()
    try:
        with pytest.raises(af.LocalIOError, match="another process is resuming") as caught:
            second.acquire()
        assert str(path) in str(caught.value)
    finally:
        first.release()
    assert list(path.parent.iterdir()) == [], "the lock file goes with its holder"
    second.acquire()
    second.release()
    second.release()


def test_a_folder_that_cannot_hold_the_journal_is_a_local_error(tmp_path: pathlib.Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(af.LocalIOError, match="cannot write the upload journal"):
        journals.JournalLock(blocker / "j.json").acquire()


def test_resume_names_the_journal_or_takes_the_cache_folder(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert journals.path_for(str(tmp_path / "j.json"), "x") == tmp_path / "j.json"
    chosen = journals.path_for(True, "api", "/a/b", "b", "batch")
    assert chosen.parent == tmp_path / "aikit_files" / "uploads"
    assert chosen == journals.path_for(True, "api", "/a/b", "b", "batch")
    assert chosen != journals.path_for(True, "api", "/a/b", "b", "fine-tune")
