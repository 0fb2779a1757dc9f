"""Replaying journals into DuckDB: idempotent, merging, no loss under locks or crashes."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import duckdb
import pytest

from cashwatch.store.db import (
    DatabaseBusyError,
    DatabaseMissingError,
    connect_readonly,
    db_path,
)
from cashwatch.store.ingest import OFFSETS_FILE, Ingestor
from cashwatch.store.journal import JournalWriter, journal_file_name, submit_review
from cashwatch.store.schema import LATEST_VERSION, MIGRATIONS
from tests.store.builders import make_old, make_record, query


def _poll_until(ingestor: Ingestor, condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        ingestor.poll()


def test_first_poll_creates_the_schema(tmp_path: Path) -> None:
    assert Ingestor(tmp_path).poll() == 0
    assert query(tmp_path, "SELECT max(version) FROM schema_version") == [(LATEST_VERSION,)]
    assert Ingestor(tmp_path).poll() == 0  # migrating again is a no-op
    assert query(tmp_path, "SELECT count(*) FROM schema_version") == [(len(MIGRATIONS),)]


def test_a_version_1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    con = duckdb.connect(str(db_path(tmp_path)))  # as CashWatch before version 2 left it
    con.execute("CREATE TABLE schema_version (version INTEGER, applied_at TIMESTAMPTZ)")
    for statement in MIGRATIONS[0][1]:
        con.execute(statement)
    con.execute("INSERT INTO schema_version VALUES (1, now())")
    con.execute(
        "INSERT INTO events (event_id, camera_id, bbox, review_status, notes, "
        "started_at, ended_at) VALUES ('old', 'cam1', [0.1, 0.2, 0.3, 0.4], "
        "'confirmed', 'kept', to_timestamp(1000), to_timestamp(1000))"
    )
    con.close()
    submit_review(tmp_path, "old", "false_positive", "seen again", reviewed_by="alice")

    assert Ingestor(tmp_path).poll() == 1
    assert query(tmp_path, "SELECT max(version) FROM schema_version") == [(LATEST_VERSION,)]
    # ended_at was a copy of started_at before version 3: now "not known"
    assert query(
        tmp_path,
        "SELECT event_id, camera_id, bbox, review_status, notes, reviewed_by, "
        "evidence_expired_at, ended_at FROM events",
    ) == [
        ("old", "cam1", [0.1, 0.2, 0.3, 0.4], "false_positive", "seen again", "alice", None, None)
    ]


def test_every_record_kind_is_applied(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, "cam1")
    record = make_record("e1", started_at=1_700_000_000.25, snapshot_path="snapshots/a/cam1/e1.jpg")
    writer.emit_event(record)
    writer.emit_event(make_record("e2"))
    writer.emit_clip("e1", "clips/a/cam1/e1.mp4", None)
    writer.append(
        "worker_run",
        {
            "run_id": "r1",
            "camera_id": "cam1",
            "pid": 42,
            "core": 1,
            "started_at": 1_700_000_000.0,
            "stopped_at": None,
            "exit_reason": None,
            "restarts": 0,
        },
    )
    writer.append(
        "worker_run", {"run_id": "r1", "stopped_at": 1_700_000_100.0, "exit_reason": "stopped"}
    )
    writer.append("expire", {"event_id": "e2", "expired_at": 1_700_000_200.0})
    writer.close()
    submit_review(tmp_path, "e1", "confirmed", "cash seen", reviewed_by="alice")

    assert Ingestor(tmp_path).poll() == 7
    row, expired = query(
        tmp_path,
        "SELECT event_id, camera_id, event_type, epoch(started_at), "
        "bbox, details, clip_path, snapshot_path, review_status, notes, "
        "reviewed_by, ingested_at, epoch(evidence_expired_at) "
        "FROM events ORDER BY event_id",
    )
    assert row[:8] == (
        "e1",
        "cam1",
        "fire",
        1_700_000_000.25,
        [1.0, 2.0, 30.0, 40.0],
        '{"frames": 3}',
        "clips/a/cam1/e1.mp4",
        "snapshots/a/cam1/e1.jpg",
    )
    assert row[8:11] == ("confirmed", "cash seen", "alice") and row[11] is not None
    assert row[12] is None
    assert (expired[0], expired[6], expired[7], expired[12]) == ("e2", None, None, 1_700_000_200.0)
    assert query(
        tmp_path, "SELECT pid, core, exit_reason, restarts, epoch(stopped_at) FROM worker_runs"
    ) == [(42, 1, "stopped", 0, 1_700_000_100.0)]


def test_replaying_everything_changes_nothing(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_event(make_record("e1"))
    writer.emit_clip("e1", None, "OSError: disk full")
    writer.emit_event(make_record("e2"))
    writer.emit_clip("e2", "clips/a/cam1/e2.mp4", None)
    writer.close()
    submit_review(tmp_path, "e2", "false_positive", "")
    ingestor = Ingestor(tmp_path)
    assert ingestor.poll() == 5
    before = query(tmp_path, "SELECT * EXCLUDE (ingested_at) FROM events ORDER BY event_id")

    (tmp_path / "journal" / OFFSETS_FILE).unlink()  # as if the manager crashed before saving
    assert Ingestor(tmp_path).poll() == 5
    after = query(tmp_path, "SELECT * EXCLUDE (ingested_at) FROM events ORDER BY event_id")
    assert after == before
    assert [(r[0], r[9], r[10]) for r in after] == [
        ("e1", None, "OSError: disk full"),
        ("e2", "clips/a/cam1/e2.mp4", None),
    ]


def test_each_review_replaces_the_last_one_reviewer_included(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_event(make_record("e1"))
    writer.close()
    submit_review(tmp_path, "e1", "confirmed", "till 2", reviewed_by="alice")
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    assert query(tmp_path, "SELECT review_status, notes, reviewed_by FROM events") == [
        ("confirmed", "till 2", "alice")
    ]
    submit_review(tmp_path, "e1", "false_positive", "script")  # a tool without a user
    ingestor.poll()
    assert query(tmp_path, "SELECT review_status, notes, reviewed_by FROM events") == [
        ("false_positive", "script", None)
    ]


def test_an_event_line_after_its_clip_line_keeps_the_clip(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_clip("e1", "clips/a/cam1/e1.mp4", None)
    writer.emit_event(make_record("e1", clip_path="clips/planned.mp4"))
    writer.close()
    Ingestor(tmp_path).poll()
    assert query(tmp_path, "SELECT camera_id, clip_path FROM events") == [
        ("cam1", "clips/a/cam1/e1.mp4")
    ]


def test_a_line_still_being_written_waits_for_its_newline(tmp_path: Path) -> None:
    folder = tmp_path / "journal" / "cam1"
    folder.mkdir(parents=True)
    path = folder / journal_file_name(time.time())
    line = json.dumps({"kind": "event", **make_record("e1").to_json_dict()})
    path.write_text(line[:40])
    ingestor = Ingestor(tmp_path)
    assert ingestor.poll() == 0
    with path.open("a") as handle:
        handle.write(line[40:] + "\n")
    assert ingestor.poll() == 1
    assert query(tmp_path, "SELECT event_id FROM events") == [("e1",)]


def test_a_damaged_line_is_skipped_and_the_rest_applied(tmp_path: Path) -> None:
    folder = tmp_path / "journal" / "cam1"
    folder.mkdir(parents=True)
    good = [json.dumps({"kind": "event", **make_record(f"e{i}").to_json_dict()}) for i in (1, 2)]
    bad = [
        '{"kind": "event", "event_id": "x", "confidence": "high"}',
        "{not json",
        '{"kind": "teleport"}',
        '{"kind": "event", "event_id": "y", "started_at": 1e300}',
    ]
    (folder / "20250101.jsonl").write_text("\n".join([good[0], *bad, good[1]]) + "\n")
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    ids = [row[0] for row in query(tmp_path, "SELECT event_id FROM events ORDER BY 1")]
    assert "e1" in ids and "e2" in ids and "x" not in ids
    assert ingestor.poll() == 0  # nothing is retried forever


def test_lines_wait_while_a_reader_holds_the_file(tmp_path: Path, spawn_child) -> None:
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    reader = spawn_child("reader", tmp_path, 1.5)
    assert reader.stdout.readline().strip() == "ready"
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_event(make_record("e1"))
    writer.close()
    assert ingestor.poll() == 0 and ingestor.busy_polls == 1
    _poll_until(ingestor, lambda: query_or_none(tmp_path) == [("e1",)], timeout_s=10.0)


def query_or_none(data_dir: Path) -> list | None:
    try:
        with connect_readonly(data_dir, timeout_s=0.0) as con:
            return con.execute("SELECT event_id FROM events").fetchall()
    except DatabaseBusyError:
        return None


@pytest.mark.slow
def test_ten_events_appear_within_5_s_after_a_60_s_reader_closes(
    tmp_path: Path, spawn_child
) -> None:
    hold_s = 60.0
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    reader = spawn_child("reader", tmp_path, hold_s)
    assert reader.stdout.readline().strip() == "ready"
    opened_at = time.monotonic()
    writer = JournalWriter(tmp_path, "cam1")
    for i in range(10):
        writer.emit_event(make_record(f"e{i}"))
    writer.close()
    applied = 0
    while applied < 10:  # the manager keeps polling all along, like its loop
        assert time.monotonic() < opened_at + hold_s + 5.0, "rows late after the reader closed"
        applied += ingestor.poll()
        time.sleep(0.25)
    assert time.monotonic() > opened_at + hold_s - 1.0, "the reader's lock was not respected"
    assert ingestor.busy_polls > 100
    assert reader.stdout.readline().strip() == "closed"
    assert len(query(tmp_path, "SELECT * FROM events")) == 10


def test_sigkilled_ingestor_restarts_and_stores_every_event_exactly_once(
    tmp_path: Path, spawn_child
) -> None:
    writer = JournalWriter(tmp_path, "cam1")
    total = 100
    for i in range(total):
        writer.emit_event(make_record(f"e{i:04d}"))
        writer.emit_clip(f"e{i:04d}", f"clips/a/cam1/e{i:04d}.mp4", None)
    writer.close()
    for kill_after in (30, 130):
        child = spawn_child("ingest", tmp_path, 4096)  # ~4 records a poll: many small commits
        while int(child.stdout.readline()) < kill_after:
            pass
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    ingestor = Ingestor(tmp_path)
    _poll_until(ingestor, lambda: ingestor.poll() == 0 and ingestor.poll() == 0, timeout_s=30.0)
    rows = query(tmp_path, "SELECT event_id, clip_path FROM events ORDER BY 1")
    assert [r[0] for r in rows] == [f"e{i:04d}" for i in range(total)]
    assert all(r[1] == f"clips/a/cam1/{r[0]}.mp4" for r in rows)


@pytest.mark.parametrize(
    ("keep_days", "age_days", "removed"), [(30.0, 2, 0), (30.0, 29, 0), (30.0, 31, 1), (1.0, 2, 1)]
)
def test_ingested_journals_are_kept_for_keep_days_to_rebuild_from(
    tmp_path: Path, keep_days: float, age_days: float, removed: int
) -> None:
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_event(make_record("e1"))
    writer.close()
    today = next((tmp_path / "journal" / "cam1").glob("*.jsonl"))
    old = today.with_name("20000101.jsonl")
    old.write_text(today.read_text().replace("e1", "e0"))
    ingestor = Ingestor(tmp_path, keep_days=keep_days)
    ingestor.poll()
    make_old(old, age_days * 86400)
    make_old(today, age_days * 86400)
    assert ingestor.remove_ingested_files(time.time()) == removed
    assert old.exists() == (not removed) and today.exists()  # today's is never removed
    assert ("cam1/20000101.jsonl" in ingestor.offsets) == (not removed)


def test_connect_readonly_explains_a_missing_database(tmp_path: Path) -> None:
    with (
        pytest.raises(DatabaseMissingError, match=r"cashwatch\.duckdb.*cashwatch run"),
        connect_readonly(tmp_path),
    ):
        pass


def test_connect_readonly_waits_out_a_short_write(tmp_path: Path, spawn_child) -> None:
    Ingestor(tmp_path).poll()
    assert db_path(tmp_path).exists()
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_event(make_record("e1"))
    writer.close()
    child = spawn_child("ingest", tmp_path, 1 << 20)  # opens the file read-write every poll
    assert int(child.stdout.readline()) == 1
    for _ in range(20):  # each attempt lands on a write now and then; retries hide it
        with connect_readonly(tmp_path, timeout_s=5.0) as con:
            assert con.execute("SELECT count(*) FROM events").fetchone() == (1,)


def test_an_event_ends_when_its_end_line_says_and_a_replay_never_shortens_it(
    tmp_path: Path,
) -> None:
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_event(make_record("e1", started_at=1_000.0))
    writer.emit_end("e1", 1_042.5)
    writer.emit_end("e1", 1_010.0)  # an older end (a replayed line) moves nothing back
    writer.close()
    Ingestor(tmp_path).poll()
    lasted = "SELECT event_id, epoch(ended_at) - epoch(started_at) FROM events"
    assert query(tmp_path, lasted) == [("e1", 42.5)]
    # the event line replayed after its end (offsets lost) keeps the end
    (tmp_path / "journal" / OFFSETS_FILE).unlink()
    Ingestor(tmp_path).poll()
    assert query(tmp_path, lasted) == [("e1", 42.5)]


@pytest.mark.parametrize(
    "ended_at", [None, 1_000.0], ids=["a worker today", "an older worker's copy of started_at"]
)
def test_an_event_line_brings_no_end(tmp_path: Path, ended_at: float | None) -> None:
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_event(make_record("e1", started_at=1_000.0, ended_at=ended_at))
    writer.close()
    Ingestor(tmp_path).poll()
    assert query(tmp_path, "SELECT ended_at FROM events") == [(None,)]


def test_an_end_applied_before_its_event_line_is_kept_and_the_event_arrives_later(
    tmp_path: Path,
) -> None:
    # e.g. ingest cut one day's file short and read the next day's first line
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_end("e1", 1_030.0)
    writer.close()
    Ingestor(tmp_path).poll()
    placeholder = query(tmp_path, "SELECT ingested_at FROM events")[0][0]
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_event(make_record("e1", started_at=1_000.0))
    writer.close()
    Ingestor(tmp_path).poll()
    # the Overview announces events by when they arrive: the event, not its placeholder
    # (an fsync'd journal write and a new transaction lie between the two readings of now())
    assert query(
        tmp_path,
        "SELECT camera_id, epoch(ended_at) - epoch(started_at), ingested_at > ? FROM events",
        [placeholder],
    ) == [("cam1", 30.0, True)]
