"""Retention: old and over-budget evidence files go, the events and their reviews stay;
orphans go after a grace period."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cashwatch.config import RetentionConfig
from cashwatch.evidence.snapshots import save_snapshot
from cashwatch.store.ingest import OFFSETS_FILE, Ingestor
from cashwatch.store.journal import JournalWriter, journal_file_name, submit_review
from cashwatch.store.retention import enforce_retention
from tests.store.builders import journal_lines, make_old, make_record, query

DAY = 86400.0
EVIDENCE = (
    "SELECT event_id, clip_path, snapshot_path, epoch(evidence_expired_at) "
    "FROM events ORDER BY event_id"
)


def _store_event(
    data_dir: Path, journal: JournalWriter, event_id: str, age_days: float, size: int = 1000
) -> tuple[Path, Path]:
    started = time.time() - age_days * DAY
    snapshot = save_snapshot(data_dir, "cam1", event_id, started, b"s" * size)
    clip = data_dir / "clips" / "2020-01-01" / "cam1" / f"{event_id}.mp4"
    clip.parent.mkdir(parents=True, exist_ok=True)
    clip.write_bytes(b"c" * size)
    journal.emit_event(make_record(event_id, started_at=started, snapshot_path=snapshot))
    journal.emit_clip(event_id, clip.relative_to(data_dir).as_posix(), None)
    return data_dir / snapshot, clip


def _relpaths(data_dir: Path, files: tuple[Path, Path]) -> tuple[str, str]:
    snapshot, clip = files
    return clip.relative_to(data_dir).as_posix(), snapshot.relative_to(data_dir).as_posix()


def _event_ids(data_dir: Path) -> list[str]:
    return [row[0] for row in query(data_dir, "SELECT event_id FROM events ORDER BY 1")]


def _expired(data_dir: Path) -> dict[str, float | None]:
    return {row[0]: row[3] for row in query(data_dir, EVIDENCE)}


def test_old_evidence_goes_but_the_event_and_its_review_stay(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, "cam1")
    old_files = _store_event(tmp_path, journal, "old", age_days=40)
    new_files = _store_event(tmp_path, journal, "new", age_days=1)
    submit_review(tmp_path, "old", "confirmed", "till 2", reviewed_by="alice")
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    now = time.time()

    stats = enforce_retention(
        tmp_path, RetentionConfig(days=30, max_gb=1), JournalWriter(tmp_path, "_manager"), now=now
    )
    assert (stats.expired_events, stats.over_budget_events, stats.files_removed) == (1, 0, 2)
    assert stats.bytes_freed == 2000 and stats.evidence_bytes == 2000
    assert not any(p.exists() for p in old_files) and all(p.exists() for p in new_files)
    ingestor.poll()
    assert query(tmp_path, EVIDENCE) == [
        ("new", *_relpaths(tmp_path, new_files), None),
        ("old", None, None, pytest.approx(now, abs=1e-3)),
    ]
    assert query(
        tmp_path,
        "SELECT review_status, notes, reviewed_by, event_type FROM events WHERE event_id = 'old'",
    ) == [("confirmed", "till 2", "alice", "fire")]


def test_oldest_evidence_goes_first_until_it_fits_the_budget(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, "cam1")
    for age, event_id in ((5, "a"), (4, "b"), (3, "c"), (2, "d")):
        _store_event(tmp_path, journal, event_id, age_days=age, size=1000)  # 2 kB each
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    budget = RetentionConfig(days=30, max_gb=5000 / 1e9)

    stats = enforce_retention(tmp_path, budget, JournalWriter(tmp_path, "_manager"))
    assert stats.over_budget_events == 2 and stats.evidence_bytes == 4000
    ingestor.poll()
    assert _event_ids(tmp_path) == ["a", "b", "c", "d"]
    expired = _expired(tmp_path)
    assert expired["a"] and expired["b"] and expired["c"] is None and expired["d"] is None


def test_expired_evidence_is_not_expired_again(tmp_path: Path) -> None:
    _store_event(tmp_path, JournalWriter(tmp_path, "cam1"), "old", age_days=40)
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    manager = JournalWriter(tmp_path, "_manager")
    assert enforce_retention(tmp_path, RetentionConfig(days=30), manager).expired_events == 1
    ingestor.poll()
    first = _expired(tmp_path)["old"]

    stats = enforce_retention(tmp_path, RetentionConfig(days=30), manager)
    assert (stats.expired_events, stats.files_removed) == (0, 0)
    assert [json.loads(line)["kind"] for line in journal_lines(tmp_path, "_manager")] == ["expire"]
    ingestor.poll()
    assert _expired(tmp_path)["old"] == first


def test_replaying_the_journal_never_puts_expired_paths_back(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, "cam1")
    _store_event(tmp_path, journal, "old", age_days=40)
    kept = _relpaths(tmp_path, _store_event(tmp_path, journal, "new", age_days=1))
    submit_review(tmp_path, "old", "false_positive", "reflection", reviewed_by="bob")
    Ingestor(tmp_path).poll()
    enforce_retention(tmp_path, RetentionConfig(days=30), JournalWriter(tmp_path, "_manager"))
    Ingestor(tmp_path).poll()
    before = query(tmp_path, "SELECT * EXCLUDE (ingested_at) FROM events ORDER BY event_id")

    (tmp_path / "journal" / OFFSETS_FILE).unlink()  # as if the manager crashed before saving
    # One line a poll: the camera's event and clip lines are applied polls before the
    # `_manager` expire line, so a path put back would be seen in between.
    ingestor = Ingestor(tmp_path, max_bytes_per_poll=1)
    for _ in range(20):
        applied = ingestor.poll()
        assert query(tmp_path, EVIDENCE)[1][1:3] == (None, None)
        if not applied:
            break
    assert query(tmp_path, "SELECT * EXCLUDE (ingested_at) FROM events ORDER BY event_id") == before
    assert query(tmp_path, EVIDENCE)[0][1:3] == kept


def test_a_clip_finished_after_its_event_expired_is_not_stored_and_goes_as_an_orphan(
    tmp_path: Path,
) -> None:
    journal = JournalWriter(tmp_path, "cam1")
    started = time.time() - 40 * DAY
    snapshot = save_snapshot(tmp_path, "cam1", "slow", started, b"s" * 10)
    journal.emit_event(make_record("slow", started_at=started, snapshot_path=snapshot))
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    manager = JournalWriter(tmp_path, "_manager")
    assert enforce_retention(tmp_path, RetentionConfig(days=30), manager).expired_events == 1
    ingestor.poll()
    late = tmp_path / "clips/2020-01-01/cam1/slow.mp4"  # the clip thread was still encoding
    late.parent.mkdir(parents=True)
    late.write_bytes(b"c" * 10)
    journal.emit_clip("slow", late.relative_to(tmp_path).as_posix(), None)
    ingestor.poll()
    assert query(tmp_path, EVIDENCE)[0][1:3] == (None, None)

    assert enforce_retention(tmp_path, RetentionConfig(days=30), manager).orphans_removed == 0
    make_old(late, 2 * 3600)
    assert enforce_retention(tmp_path, RetentionConfig(days=30), manager).orphans_removed == 1
    assert not late.exists()


def test_the_budget_skips_evidence_kept_outside_the_data_folder(tmp_path: Path) -> None:
    data_dir, shared = tmp_path / "data", tmp_path / "shared"
    remote = shared / "clips/2020-01-01/cam1/remote.mp4"
    remote.parent.mkdir(parents=True)
    remote.write_bytes(b"r" * 5000)
    journal = JournalWriter(data_dir, "cam1")
    journal.emit_event(make_record("remote", started_at=time.time() - 9 * DAY))
    journal.emit_clip("remote", f"file://{remote}", None)
    for age, event_id in ((5, "a"), (4, "b")):
        _store_event(data_dir, journal, event_id, age_days=age)
    ingestor = Ingestor(data_dir)
    ingestor.poll()

    # deleting the oldest event's clip would free nothing here: "a" goes instead
    stats = enforce_retention(
        data_dir, RetentionConfig(days=30, max_gb=3000 / 1e9), JournalWriter(data_dir, "_manager")
    )
    assert stats.over_budget_events == 1 and remote.exists()
    ingestor.poll()
    assert {key for key, value in _expired(data_dir).items() if value} == {"a"}

    # the age limit applies wherever the evidence is kept
    stats = enforce_retention(
        data_dir, RetentionConfig(days=7, max_gb=1), JournalWriter(data_dir, "_manager")
    )
    assert stats.expired_events == 1 and not remote.exists()


def test_orphan_files_go_after_the_grace_period(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, "cam1")
    _store_event(tmp_path, journal, "kept", age_days=1)
    Ingestor(tmp_path).poll()
    stale = tmp_path / "clips/2020-01-01/cam2/lost.mp4"
    leftover = tmp_path / "clips/2020-01-01/cam2/.half.mp4.tmp"
    fresh = tmp_path / "snapshots/2020-01-01/cam2/not-yet-ingested.jpg"
    for path in (stale, leftover, fresh):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 10)
    make_old(stale, 2 * 3600)
    make_old(leftover, 2 * 3600)

    stats = enforce_retention(tmp_path, RetentionConfig(), JournalWriter(tmp_path, "_manager"))
    assert stats.orphans_removed == 2 and stats.expired_events == 0
    assert not stale.exists() and not leftover.exists() and fresh.exists()
    assert not (tmp_path / "clips/2020-01-01/cam2").exists()
    assert len(list((tmp_path / "clips").rglob("*.mp4"))) == 1


def test_nothing_is_deleted_before_the_database_exists(tmp_path: Path) -> None:
    orphan = tmp_path / "clips/2020-01-01/cam1/e.mp4"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x")
    make_old(orphan, 100 * DAY)
    stats = enforce_retention(tmp_path, RetentionConfig(), JournalWriter(tmp_path, "_manager"))
    assert stats.orphans_removed == 0 and orphan.exists()


def test_a_delete_line_from_an_older_version_only_expires_the_evidence(tmp_path: Path) -> None:
    files = _store_event(tmp_path, JournalWriter(tmp_path, "cam1"), "e1", age_days=0)
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    # what retention journalled before it kept rows; `append` no longer writes this kind
    folder = tmp_path / "journal" / "_manager"
    folder.mkdir(parents=True)
    (folder / journal_file_name(time.time())).write_text('{"kind":"delete","event_id":"e1"}\n')
    ingestor.poll()
    assert not any(p.exists() for p in files)
    ((event_id, clip, snapshot, expired_at),) = query(tmp_path, EVIDENCE)
    assert (event_id, clip, snapshot) == ("e1", None, None)
    assert expired_at == pytest.approx(time.time(), abs=60)
