"""The many-files plan without I/O: which files of a directory go, the manifest's records, what
is skipped, and the adaptive concurrency of a batch."""

from __future__ import annotations

import os
import pathlib
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

import aikit_files as af
from aikit_files._io.tree import expand, read_small
from aikit_files._protocol.many import (
    CLOCK_SKEW,
    Entry,
    Record,
    Skip,
    decide,
    header_line,
    is_header,
    latest,
    parse_record,
    selected,
)
from aikit_files._protocol.pacing import (
    DEFAULT_HOLD,
    SUCCESS_RUN,
    Pacing,
    Rejoin,
    rate_limit_listener,
    rate_limited,
)


@pytest.mark.parametrize(
    ("relative", "include", "exclude", "hidden", "expected"),
    [
        ("a.txt", ("*",), (), False, True),
        ("sub/a.txt", ("*",), (), False, True),
        ("sub/a.txt", ("*.txt",), (), False, True),
        ("sub/a.jsonl", ("*.txt",), (), False, False),
        ("sub/a.jsonl", ("*.txt", "*.jsonl"), (), False, True),
        ("sub/a.txt", ("*",), ("sub/*",), False, False),
        ("top/sub/a.txt", ("*",), ("sub/*",), False, True),
        ("a.TXT", ("*.txt",), (), False, False),
        (".env", ("*",), (), False, False),
        (".env", ("*",), (), True, True),
        (".git/config", ("*",), (), False, False),
        ("sub/.cache/x", ("*",), (), False, False),
        ("sub/.cache/x", ("*",), (), True, True),
        ("sub/.cache/x", ("*",), ("*/.cache/*",), True, False),
        ("a.txt", (), (), False, False),
    ],
)
def test_selected(
    relative: str, include: tuple[str, ...], exclude: tuple[str, ...], hidden: bool, expected: bool
) -> None:
    assert selected(relative, include, exclude, hidden) is expected


def record(**changes: object) -> Record:
    fields: dict[str, object] = {
        "path": "/data/a.txt",
        "filename": "a.txt",
        "size": 5,
        "mtime_ns": 1_000,
        "state": "created",
        "started": 1_700_000_000.0,
        "file_id": "file-a",
    }
    fields.update(changes)
    return Record(**fields)  # type: ignore[arg-type]


def entry(path: str = "/data/a.txt", filename: str = "a.txt", size: int = 5) -> Entry:
    return Entry(path, filename, size, path, 1_000)


def file(
    id: str, filename: str = "a.txt", size: int = 5, created_at: int = 1_700_000_000
) -> af.OpenAIFile:
    return af.OpenAIFile(id=id, filename=filename, bytes=size, created_at=created_at)


def test_a_record_round_trips_through_its_line() -> None:
    for each in (record(), record(state="sending", file_id=None)):
        line = each.line()
        assert line.endswith(b"\n")
        assert line.count(b"\n") == 1
        assert parse_record(line) == each


@pytest.mark.parametrize(
    "line",
    [
        b'{"path": "/a", "filename": "a", "size": 5, "mtime_ns": 1, "state": "cre',  # cut short
        b"",
        b"[]",
        b'{"path": "/a", "filename": "a", "size": "5", "mtime_ns": 1, "state": "created", '
        b'"started": 1}',
        b'{"path": "/a", "filename": "a", "size": true, "mtime_ns": 1, "state": "created", '
        b'"started": 1}',
        b'{"path": "/a", "filename": "a", "size": 5, "mtime_ns": 1, "state": "lost", "started": 1}',
        b'{"path": "/a", "filename": "a", "size": 5, "mtime_ns": 1, "state": "created"}',
        b'{"path": "/a", "filename": "a", "size": 5, "mtime_ns": 1, "state": "created", '
        b'"started": 1, "file_id": 7}',
    ],
)
def test_a_line_that_is_no_record_is_skipped(line: bytes) -> None:
    assert parse_record(line) is None


def test_the_header() -> None:
    assert is_header(header_line("batch"))
    assert not is_header(b'{"format": "other", "version": 1}')
    assert not is_header(b"not json")
    assert not is_header(b'{"format": "aikit_files.manifest", "version": 2}')


def test_the_last_record_of_a_source_wins() -> None:
    first = record(state="sending", file_id=None)
    second = record()
    other = record(path="/data/b.txt", filename="b.txt")
    assert latest([first, other, second]) == {first.key: second, other.key: other}


def test_a_recorded_file_still_there_is_skipped() -> None:
    listed = file("file-a")
    assert decide([entry()], [listed], {record().key: record()}, skip_existing=False) == [
        Skip(listed)
    ]


def test_a_recorded_file_gone_from_the_server_is_sent_again() -> None:
    assert decide([entry()], [], {record().key: record()}, skip_existing=False) == [None]


@pytest.mark.parametrize("changed", [{"size": 6}, {"mtime_ns": 2_000}])
def test_a_source_whose_size_or_mtime_changed_is_sent_again(changed: dict[str, int]) -> None:
    listed = file("file-a")
    old = record(**changed)
    assert decide([entry()], [listed], {old.key: old}, skip_existing=False) == [None]


def test_a_source_sent_but_not_recorded_is_found_and_taken_once() -> None:
    sending = record(state="sending", file_id=None)
    made = file("file-made", created_at=int(sending.started) + 2)
    decisions = decide([entry(), entry()], [made], {sending.key: sending}, skip_existing=False)
    # NOTE: the same source twice: the file is taken for the first only.
    assert decisions == [Skip(made, adopted=True), None]


def test_a_file_older_than_the_send_is_not_taken_for_it() -> None:
    sending = record(state="sending", file_id=None)
    old = file("file-old", created_at=int(sending.started - CLOCK_SKEW) - 1)
    assert decide([entry()], [old], {sending.key: sending}, skip_existing=False) == [None]


def test_a_file_another_record_owns_is_not_taken() -> None:
    owned = record(path="/data/b/a.txt", file_id="file-owned")
    sending = record(state="sending", file_id=None)
    listed = file("file-owned", created_at=int(sending.started) + 1)
    records = {owned.key: owned, sending.key: sending}
    decisions = decide([entry("/data/b/a.txt"), entry()], [listed], records, skip_existing=False)
    assert decisions == [Skip(listed), None]


def test_skip_existing_matches_filename_and_size() -> None:
    listed = [file("file-a"), file("file-b", filename="b.txt", size=9)]
    entries = [entry(), entry("/d/b.txt", "b.txt", 8), entry("/d/c.txt", "c.txt")]
    assert decide(entries, listed, {}, skip_existing=True) == [Skip(listed[0]), None, None]
    assert decide(entries, listed, {}, skip_existing=False) == [None, None, None]


def test_a_blob_is_never_in_a_manifest() -> None:
    blob = Entry("a.txt", "a.txt", 5)
    assert decide([blob], [file("file-a")], {record().key: record()}, skip_existing=False) == [None]


def test_pacing_halves_once_per_wait_and_holds_new_files_back() -> None:
    pacing = Pacing(8)
    assert pacing.wait(7, now=0.0) == 0
    assert pacing.wait(8, now=0.0) is None
    pacing.rate_limited(2.0, now=10.0, in_flight=7)
    assert (pacing.limit, pacing.hold_until) == (4, 12.0)
    # The other files in flight, sent at the old pace, get their 429 in the same wait: the
    # limit is not halved again, but comes down to the files the server still holds.
    pacing.rate_limited(2.0, now=10.5, in_flight=6)
    assert (pacing.limit, pacing.hold_until) == (4, 12.5)
    pacing.rate_limited(2.0, now=10.6, in_flight=3)
    assert pacing.limit == 3
    assert pacing.wait(1, now=11.0) == pytest.approx(1.6)
    assert pacing.wait(3, now=11.0) is None
    # Their retries, sent after the wait, count again.
    pacing.rate_limited(None, now=12.0, in_flight=3)
    assert (pacing.limit, pacing.hold_until) == (1, 12.6)
    pacing.rate_limited(None, now=12.7, in_flight=0)
    assert (pacing.limit, pacing.hold_until) == (1, 12.7 + DEFAULT_HOLD)
    assert pacing.slowdowns == 3


def test_pacing_climbs_back_one_at_a_time() -> None:
    pacing = Pacing(12)
    pacing.rate_limited(0, now=0.0, in_flight=1)
    assert pacing.limit == 1
    for limit in range(1, 12):
        # A run of successes, never shorter than SUCCESS_RUN, raises it by one.
        for _ in range(max(limit, SUCCESS_RUN) - 1):
            pacing.succeeded()
            assert pacing.limit == limit
        pacing.succeeded()
        assert pacing.limit == limit + 1
    for _ in range(50):
        pacing.succeeded()
    assert pacing.limit == 12


@given(
    st.integers(1, 64),
    st.lists(
        st.one_of(st.tuples(st.one_of(st.none(), st.floats(0, 10)), st.integers(0, 80)),
                  st.just("ok")),
        max_size=200,
    ),
)  # fmt: skip
def test_pacing_stays_between_one_and_the_ceiling(ceiling: int, events: list[object]) -> None:
    pacing = Pacing(ceiling)
    now = 0.0
    for event in events:
        now += 0.1
        if event == "ok":
            pacing.succeeded()
        else:
            assert isinstance(event, tuple)
            delay, in_flight = event
            pacing.rate_limited(delay, now, in_flight)
            # New files wait as asked, at least a little.
            assert (pacing.wait(0, now) or 0) > 0
            assert pacing.limit <= max(1, in_flight)
        assert 1 <= pacing.limit <= ceiling


def test_rate_limited_tells_the_listener_of_the_call_only_when_asked_to_slow_down() -> None:
    heard: list[float | None] = []

    async def rejoin() -> None:
        return None

    def listener(delay: float | None) -> Rejoin:
        heard.append(delay)
        return rejoin

    assert rate_limited(429, {}) is None  # no listener in this context
    token = rate_limit_listener.set(listener)
    try:
        assert rate_limited(429, {}) is rejoin
        assert rate_limited(503, {"Retry-After": "2"}) is rejoin
        assert rate_limited(429, {"retry-after-ms": "250"}) is rejoin
        assert rate_limited(503, {}) is None
        assert rate_limited(400, {}) is None
    finally:
        rate_limit_listener.reset(token)
    assert heard == [None, 2.0, 0.25]


@pytest.mark.parametrize("spelling", ["{root}", "{root}/", "./docs", "docs//"])
def test_a_directorys_files_are_named_as_joined_to_the_root_as_given(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    root = tmp_path / "docs"
    names = [("a", "c.txt"), ("a.b", "d.txt"), ("b.txt",)]  # sorted by names: "a" < "a.b"
    for i, parts in enumerate(names):
        root.joinpath(*parts).parent.mkdir(parents=True, exist_ok=True)
        root.joinpath(*parts).write_bytes(b"x" * i)
    monkeypatch.chdir(tmp_path)
    given = spelling.format(root=root)
    entries, values = expand([given], ("*",), (), False, 100)
    paths = [os.path.join(given, *parts) for parts in names]
    assert values == paths
    assert [e.source for e in entries] == paths
    assert [e.path for e in entries] == [
        os.path.join(os.path.abspath(given), *parts) for parts in names
    ]
    assert [e.filename for e in entries] == ["c.txt", "d.txt", "b.txt"]
    assert [e.size for e in entries] == [0, 1, 2]
    assert [e.mtime_ns for e in entries] == [os.stat(p).st_mtime_ns for p in paths]
    # A file over the limit is named, as joined to the root, before any I/O.
    with pytest.raises(af.InvalidArgumentError, match=r"b\.txt' holds 2 bytes"):
        expand([given], ("*",), (), False, 1)


def test_read_small_reads_a_small_file_whole_and_no_more(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 10)
    assert read_small(str(path), 10) == b"x" * 10
    assert read_small(str(path), 9) is None
    with pytest.raises(af.LocalIOError, match=r"cannot read .*missing\.bin"):
        read_small(str(tmp_path / "missing.bin"), 10)


def test_read_small_reads_on_when_the_first_read_is_not_the_size_the_walk_found(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 10)
    # The size the walk found, and a stale one (the file changed since): the whole file both ways.
    assert read_small(str(path), 10, 10) == b"x" * 10
    assert read_small(str(path), 10, 4) == b"x" * 10
    assert read_small(str(path), 9, 4) is None
    # A file that grew since: the first read asks for one byte more than the walk found.
    assert read_small(str(path), 20, 8) == b"x" * 10
    assert read_small(str(path), 9, 8) is None


def test_read_small_reads_a_pipe_to_its_end(tmp_path: pathlib.Path) -> None:
    # A pipe gives what was written so far at each read: the reads go on to its end.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb", buffering=0) as pipe:
            for _ in range(5):
                pipe.write(b"y" * 3)
                time.sleep(0.01)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert read_small(str(fifo), 100) == b"y" * 15
    finally:
        writer.join()
