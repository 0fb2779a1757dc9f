"""Retention: old and over-budget events go with their files; orphans go after a grace period."""

from __future__ import annotations

import time
from pathlib import Path

from cashwatch.config import RetentionConfig
from cashwatch.evidence.snapshots import save_snapshot
from cashwatch.store.ingest import Ingestor
from cashwatch.store.journal import JournalWriter
from cashwatch.store.retention import enforce_retention
from tests.store.builders import make_old, make_record, query

DAY = 86400.0


def _store_event(data_dir: Path, journal: JournalWriter, event_id: str, age_days: float,
                 size: int = 1000) -> tuple[Path, Path]:
    started = time.time() - age_days * DAY
    snapshot = save_snapshot(data_dir, "cam1", event_id, started, b"s" * size)
    clip = data_dir / "clips" / "2020-01-01" / "cam1" / f"{event_id}.mp4"
    clip.parent.mkdir(parents=True, exist_ok=True)
    clip.write_bytes(b"c" * size)
    journal.emit_event(make_record(event_id, started_at=started, snapshot_path=snapshot))
    journal.emit_clip(event_id, clip.relative_to(data_dir).as_posix(), None)
    return data_dir / snapshot, clip


def _event_ids(data_dir: Path) -> list[str]:
    return [row[0] for row in query(data_dir, "SELECT event_id FROM events ORDER BY 1")]


def test_events_older_than_the_limit_lose_row_and_files(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, "cam1")
    old_files = _store_event(tmp_path, journal, "old", age_days=40)
    new_files = _store_event(tmp_path, journal, "new", age_days=1)
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    manager = JournalWriter(tmp_path, "_manager")

    stats = enforce_retention(tmp_path, RetentionConfig(days=30, max_gb=1), manager)
    assert (stats.expired_events, stats.over_budget_events, stats.files_removed) == (1, 0, 2)
    assert stats.bytes_freed == 2000 and stats.evidence_bytes == 2000
    assert not any(p.exists() for p in old_files) and all(p.exists() for p in new_files)
    ingestor.poll()
    assert _event_ids(tmp_path) == ["new"]


def test_oldest_events_go_first_until_evidence_fits_the_budget(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, "cam1")
    for age, event_id in ((5, "a"), (4, "b"), (3, "c"), (2, "d")):
        _store_event(tmp_path, journal, event_id, age_days=age, size=1000)  # 2 kB each
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    budget = RetentionConfig(days=30, max_gb=5000 / 1e9)

    stats = enforce_retention(tmp_path, budget, JournalWriter(tmp_path, "_manager"))
    assert stats.over_budget_events == 2 and stats.evidence_bytes == 4000
    ingestor.poll()
    assert _event_ids(tmp_path) == ["c", "d"]


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


def test_a_delete_record_removes_the_events_files_on_ingest(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path, "cam1")
    files = _store_event(tmp_path, journal, "e1", age_days=0)
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    JournalWriter(tmp_path, "_manager").append("delete", {"event_id": "e1"})
    ingestor.poll()
    assert _event_ids(tmp_path) == [] and not any(p.exists() for p in files)
