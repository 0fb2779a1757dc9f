"""A damaged event database: ingest loses nothing and backs off; `db recover` rebuilds it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from cashwatch.store.db import db_path
from cashwatch.store.ingest import OFFSETS_FILE, RETRY_INITIAL_S, Ingestor
from cashwatch.store.journal import JournalWriter
from cashwatch.store.recover import RecoveryRefused, database_problem, recover_database
from cashwatch.util.manager_lock import ManagerLock
from tests.store.builders import (
    bulk_database,
    damage_a_block_that_opening_misses,
    damage_database,
    journal_events,
    make_old,
    make_record,
    query,
)


def _ingested(data_dir: Path, event_ids: list[str], source: str = "cam1") -> None:
    journal_events(data_dir, source, event_ids)
    Ingestor(data_dir).drain()


def _offsets(data_dir: Path) -> str:
    path = data_dir / "journal" / OFFSETS_FILE
    return path.read_text() if path.exists() else ""


def _event_ids(data_dir: Path) -> list[str]:
    return [row[0] for row in query(data_dir, "SELECT event_id FROM events ORDER BY 1")]


def test_ingest_on_a_damaged_file_consumes_nothing_and_backs_off(tmp_path: Path) -> None:
    _ingested(tmp_path, ["e1", "e2"])
    damage_database(tmp_path)
    journal_events(tmp_path, "cam1", ["e3"])
    offsets_before = _offsets(tmp_path)
    ingestor = Ingestor(tmp_path)

    assert ingestor.poll() == 0
    assert "Corrupt database file" in ingestor.db_error
    assert len(ingestor.db_error) <= 240  # short: it goes in a status field
    assert _offsets(tmp_path) == offsets_before  # nothing consumed, nothing skipped
    # the manager polls 5 times a second; the file is tried again only after the back-off
    tried_at = time.monotonic()
    while time.monotonic() - tried_at < RETRY_INITIAL_S * 0.8:
        assert ingestor.poll() == 0
    assert ingestor.failed_writes == 1
    deadline = time.monotonic() + RETRY_INITIAL_S + 5
    while ingestor.failed_writes < 2:
        assert time.monotonic() < deadline, "no second try after the first back-off"
        ingestor.poll()
    assert time.monotonic() - tried_at >= RETRY_INITIAL_S
    assert _offsets(tmp_path) == offsets_before


def test_damage_found_only_by_an_update_skips_no_record(tmp_path: Path) -> None:
    """The file opens; the upsert of a clip for e5 reads the damaged block. That error is
    the file's, not the record's: nothing may be skipped as a bad record."""
    bulk_database(tmp_path, 3000)
    damage_a_block_that_opening_misses(tmp_path, "e5")
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_event(make_record("new-1"))
    writer.emit_clip("e5", "clips/d/cam1/e5.mp4", None)
    writer.emit_event(make_record("new-2"))
    writer.close()
    ingestor = Ingestor(tmp_path)

    assert ingestor.poll() == 0
    assert "Corrupt database file" in ingestor.db_error
    assert ingestor.offsets == {}  # every line still to do

    recover_database(tmp_path)
    assert _event_ids(tmp_path) == ["e5", "new-1", "new-2"]
    assert query(tmp_path, "SELECT clip_path FROM events WHERE event_id = 'e5'") == [
        ("clips/d/cam1/e5.mp4",)
    ]


def test_recover_moves_the_damaged_file_aside_and_rebuilds_every_kept_journal(
    tmp_path: Path,
) -> None:
    _ingested(tmp_path, ["e1", "e2"])
    _ingested(tmp_path, ["r1"], source="other-cam")
    damage_database(tmp_path)
    journal_events(tmp_path, "cam1", ["e3"])  # journalled while the file was damaged

    done = recover_database(tmp_path, now=time.mktime((2026, 12, 6, 9, 30, 0, 0, 0, -1)))

    assert done.moved_to == tmp_path / "cashwatch.duckdb.damaged-20261206-093000"
    assert done.moved_to.exists() and db_path(tmp_path).exists()
    assert (done.events, done.journal_files) == (4, 2)
    assert "rebuilt 4 event(s) from 2 journal file(s)" in done.describe()
    assert _event_ids(tmp_path) == ["e1", "e2", "e3", "r1"]
    assert database_problem(tmp_path) == ""
    # offsets now describe the new file: the manager's next poll applies nothing again
    assert Ingestor(tmp_path).poll() == 0


def test_recover_twice_gives_the_same_rows(tmp_path: Path) -> None:
    _ingested(tmp_path, ["e1", "e2"])
    damage_database(tmp_path)
    recover_database(tmp_path)
    first = query(tmp_path, "SELECT event_id, confidence, review_status FROM events ORDER BY 1")
    recover_database(tmp_path, force=True)
    assert (
        query(tmp_path, "SELECT event_id, confidence, review_status FROM events ORDER BY 1")
        == first
    )
    assert len(list(tmp_path.glob("cashwatch.duckdb.damaged-*"))) >= 1


def test_recover_leaves_a_sound_database_alone_unless_forced(tmp_path: Path) -> None:
    _ingested(tmp_path, ["e1"])
    with pytest.raises(RecoveryRefused, match=r"reads back without error.*--force"):
        recover_database(tmp_path)
    assert not list(tmp_path.glob("cashwatch.duckdb.damaged-*"))


def test_recover_refuses_while_a_manager_holds_the_lock_unless_it_is_that_manager(
    tmp_path: Path,
) -> None:
    _ingested(tmp_path, ["e1"])
    damage_database(tmp_path)
    lock = ManagerLock(tmp_path)
    lock.acquire()
    try:
        with pytest.raises(RecoveryRefused, match=rf"pid {os.getpid()}.*stop it first"):
            recover_database(tmp_path)
        assert "Corrupt" in database_problem(tmp_path)  # untouched
        done = recover_database(tmp_path, lock=lock)  # the manager itself may
    finally:
        lock.release()
    assert done.events == 1


def test_recover_replays_journals_the_old_offsets_had_marked_done(tmp_path: Path) -> None:
    """offsets.json described the damaged file; a rebuild that trusted it would be empty."""
    _ingested(tmp_path, ["e1", "e2"])
    assert _offsets(tmp_path)
    damage_database(tmp_path)
    assert recover_database(tmp_path).events == 2


def test_journals_stay_for_a_rebuild_for_30_days_by_default(tmp_path: Path) -> None:
    journal_events(tmp_path, "cam1", ["e1"])
    path = next((tmp_path / "journal" / "cam1").glob("*.jsonl"))
    old = path.rename(path.with_name("20000101.jsonl"))
    ingestor = Ingestor(tmp_path)
    ingestor.drain()
    make_old(old, 29 * 86400)
    assert ingestor.remove_ingested_files(time.time()) == 0
    damage_database(tmp_path)
    assert recover_database(tmp_path).events == 1


def test_reviews_and_worker_runs_come_back_too(tmp_path: Path) -> None:
    from cashwatch.store.journal import submit_review

    journal_events(tmp_path, "cam1", ["e1"])
    submit_review(tmp_path, "e1", "confirmed", "seen", reviewed_by="ada")
    manager = JournalWriter(tmp_path, "_manager")
    manager.append(
        "worker_run",
        {
            "run_id": "r1",
            "camera_id": "cam1",
            "pid": 7,
            "core": 0,
            "started_at": time.time(),
            "stopped_at": None,
            "exit_reason": None,
            "restarts": 0,
        },
    )
    manager.close()
    Ingestor(tmp_path).drain()
    damage_database(tmp_path)
    recover_database(tmp_path)
    assert query(tmp_path, "SELECT review_status, reviewed_by FROM events") == [
        ("confirmed", "ada")
    ]
    assert query(tmp_path, "SELECT run_id FROM worker_runs") == [("r1",)]


def _disk_full_at_first_batch() -> object:
    """Ingestor._write that creates the new file, then fails its first batch (ENOSPC)."""
    real = Ingestor._write
    failed: list[bool] = []

    def write(ingestor: Ingestor, lines: list) -> tuple[int, int, list[str]]:
        if lines and not failed:
            failed.append(True)
            from cashwatch.store.db import open_writable

            open_writable(ingestor.data_dir).close()  # the new, still empty database
            raise OSError(28, "No space left on device")
        return real(ingestor, lines)

    return write


def _interrupted_recover(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _ingested(data_dir, ["e1", "e2", "e3"])
    damage_database(data_dir)
    journal_events(data_dir, "cam1", ["e4"])
    monkeypatch.setattr(Ingestor, "_write", _disk_full_at_first_batch())
    with pytest.raises(OSError, match="No space"):
        recover_database(data_dir)
    monkeypatch.undo()
    assert db_path(data_dir).exists() and _event_ids(data_dir) == []


def test_a_recover_interrupted_at_its_first_batch_runs_again_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interrupted_recover(tmp_path, monkeypatch)
    done = recover_database(tmp_path)  # before: "reads back without error; nothing to recover"
    assert _event_ids(tmp_path) == ["e1", "e2", "e3", "e4"]
    assert done.moved_to is None and "finished the interrupted rebuild" in done.describe()
    assert len(list(tmp_path.glob("cashwatch.duckdb.damaged-*"))) == 1  # the original only
    assert not (tmp_path / "journal" / "rebuild-in-progress").exists()
    with pytest.raises(RecoveryRefused):  # finished: a third run has nothing to do
        recover_database(tmp_path)


def test_after_an_interrupted_recover_the_manager_replays_every_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interrupted_recover(tmp_path, monkeypatch)
    ingestor = Ingestor(tmp_path)  # what the manager does at start
    assert ingestor.offsets == {}  # before: the old file's offsets, so e1-e3 were skipped
    while ingestor.poll():
        pass
    ingestor.poll()  # nothing new: the rebuild is complete
    assert _event_ids(tmp_path) == ["e1", "e2", "e3", "e4"]
    assert not (tmp_path / "journal" / "rebuild-in-progress").exists()
    assert Ingestor(tmp_path).offsets  # trusted again from now on


def test_offsets_are_emptied_on_disk_before_the_file_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cashwatch.store import recover

    _ingested(tmp_path, ["e1"])
    damage_database(tmp_path)
    seen: list[str] = []

    def moving(data_dir: Path, now: float | None = None) -> None:
        seen.append(_offsets(data_dir))
        raise KeyboardInterrupt  # Ctrl-C just as the file would move

    monkeypatch.setattr(recover, "move_aside", moving)
    with pytest.raises(KeyboardInterrupt):
        recover_database(tmp_path)
    assert seen and json.loads(seen[0]) == {}
    assert (tmp_path / "journal" / "rebuild-in-progress").exists()


def test_a_second_recover_in_the_same_second_keeps_the_first_damaged_file(tmp_path: Path) -> None:
    _ingested(tmp_path, ["e1"])
    original = damage_database(tmp_path).read_bytes()
    first = recover_database(tmp_path, now=1_700_000_000)
    second = recover_database(tmp_path, force=True, now=1_700_000_000)
    assert first.moved_to != second.moved_to
    assert second.moved_to is not None and second.moved_to.name.endswith("-2")
    assert first.moved_to is not None and first.moved_to.read_bytes() == original


def test_a_wal_left_behind_by_a_crash_is_moved_aside_not_replayed(tmp_path: Path) -> None:
    from cashwatch.store.ingest import start_rebuild

    _ingested(tmp_path, ["e1"])
    start_rebuild(tmp_path)  # a recover that moved the database and died before its WAL
    db_path(tmp_path).rename(tmp_path / "cashwatch.duckdb.damaged-20260101-000000")
    stale_wal = db_path(tmp_path).with_name("cashwatch.duckdb.wal")
    stale_wal.write_bytes(b"stale write-ahead log of the old file")
    done = recover_database(tmp_path, now=1_700_000_000)
    assert not stale_wal.exists()
    assert done.moved_to is not None and done.moved_to.name.endswith(".wal")
    assert _event_ids(tmp_path) == ["e1"]


def test_recover_prints_a_failure_masked_and_on_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from cashwatch.store import recover
    from tests.harness import write_config

    config = write_config(tmp_path / "cashwatch.toml", [])

    def failing(*_: object, **__: object) -> None:
        raise OSError("cannot read rtsp://admin:hunter2@cam/live\nsecond line")

    monkeypatch.setattr(recover, "recover_database", failing)
    assert recover.run(argparse.Namespace(config=str(config), force=False)) == 1
    err = capsys.readouterr().err
    assert "hunter2" not in err and "admin:***@cam" in err and "second line" not in err
