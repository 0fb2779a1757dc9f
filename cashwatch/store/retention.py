"""Keeping evidence within its age and disk budget; the event history is never deleted.

Retention deletes an event's clip and snapshot, never its row or its review: analysts
count and browse every event, however old. The files of an event whose evidence
expires are deleted at once (the space is what matters) and an `expire` record is
journalled, so the manager's ingest clears the row's paths and sets
`evidence_expired_at` (and removes any file of it still left). Files no row with live
evidence can claim are orphans, e.g. from a crash between writing a clip and
journalling it, or a clip finished after its event expired; they go once older than a
grace period that covers journal lines not yet ingested.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cashwatch.config.evidence import RetentionConfig
from cashwatch.evidence.paths import prune_empty_dirs, remove_evidence
from cashwatch.evidence.storage import EVIDENCE_DIRS
from cashwatch.store.db import DatabaseMissingError, connect_readonly
from cashwatch.store.journal import JournalWriter

log = logging.getLogger(__name__)

ORPHAN_GRACE_S = 3600.0
GB = 1_000_000_000


@dataclass
class RetentionStats:
    expired_events: int = 0  # evidence older than `days` (rows stay)
    over_budget_events: int = 0  # oldest evidence, deleted to get under `max_gb`
    files_removed: int = 0
    bytes_freed: int = 0
    orphans_removed: int = 0
    evidence_bytes: int = 0  # what is left


@dataclass(frozen=True)
class _StoredEvent:
    event_id: str
    started_at: float
    paths: tuple[str, ...]


@dataclass(frozen=True)
class _EvidenceFile:
    relpath: str
    size: int
    mtime: float


def _stored_events(data_dir: Path) -> list[_StoredEvent]:
    """Events whose evidence has not expired, oldest first.

    Expired rows are left out: they name no file any more (ingest clears the paths and
    never sets them again), so they are neither expired twice nor a claim on a file.
    """
    with connect_readonly(data_dir) as con:
        rows = con.execute(
            "SELECT event_id, epoch(started_at), clip_path, snapshot_path "
            "FROM events WHERE evidence_expired_at IS NULL "
            "ORDER BY started_at NULLS FIRST"
        ).fetchall()
    return [
        _StoredEvent(
            str(event_id), float(started or 0.0), tuple(path for path in (clip, snapshot) if path)
        )
        for event_id, started, clip, snapshot in rows
    ]


def _evidence_files(data_dir: Path) -> list[_EvidenceFile]:
    files = []
    for folder in EVIDENCE_DIRS:
        for root, _dirs, names in os.walk(data_dir / folder):
            for name in names:
                path = Path(root) / name
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                files.append(
                    _EvidenceFile(
                        path.relative_to(data_dir).as_posix(), stat.st_size, stat.st_mtime
                    )
                )
    return files


def _event_id_of(relpath: str) -> str:
    # clips/<day>/<camera>/<event_id>.mp4, or .<event_id>.mp4.tmp while being written
    return Path(relpath).name.lstrip(".").split(".")[0]


def _choose_doomed(
    events: list[_StoredEvent],
    sizes: dict[str, int],
    total: int,
    retention: RetentionConfig,
    now: float,
) -> tuple[list[_StoredEvent], int]:
    """Events with evidence older than `days`, then the oldest others until the rest fits
    the budget."""
    cutoff = now - retention.days * 86400.0
    budget = int(retention.max_gb * GB)
    expired = [event for event in events if event.paths and event.started_at < cutoff]
    doomed_ids = {event.event_id for event in expired}
    remaining = total - sum(sizes.get(path, 0) for event in expired for path in event.paths)
    over_budget = 0
    doomed = list(expired)
    for event in events:  # oldest first
        if remaining <= budget:
            break
        freed = sum(sizes.get(path, 0) for path in event.paths)
        # Nothing of it in the data folder (in shared storage, or not written yet):
        # taking its evidence would not bring the folder under budget.
        if event.event_id in doomed_ids or not freed:
            continue
        doomed.append(event)
        over_budget += 1
        remaining -= freed
    return doomed, over_budget


def enforce_retention(
    data_dir: Path,
    retention: RetentionConfig,
    journal: JournalWriter,
    *,
    now: float | None = None,
    orphan_grace_s: float = ORPHAN_GRACE_S,
) -> RetentionStats:
    """Delete evidence files that are too old or over budget; returns what was done.

    Event rows and reviews are kept; each event whose files go gets an `expire` record.
    Does nothing while there is no database yet (without rows every file would look
    like an orphan). Raises DatabaseBusyError if the database stays locked.
    """
    data_dir = Path(data_dir)
    now = time.time() if now is None else now
    try:
        events = _stored_events(data_dir)
    except DatabaseMissingError:
        return RetentionStats()
    files = _evidence_files(data_dir)
    sizes = {file.relpath: file.size for file in files}
    total = sum(sizes.values())
    doomed, over_budget = _choose_doomed(events, sizes, total, retention, now)
    stats = RetentionStats(expired_events=len(doomed) - over_budget, over_budget_events=over_budget)
    for event in doomed:
        journal.append("expire", {"event_id": event.event_id, "expired_at": now})
        removed, freed = remove_evidence(data_dir, event.paths)
        stats.files_removed += removed
        stats.bytes_freed += freed
    # A file named after an event whose evidence expired is left over (a clip finished
    # after the expiry, a delete that failed): no row will ever point at it again.
    known = {event.event_id for event in events} - {event.event_id for event in doomed}
    already_removed = {path for event in doomed for path in event.paths}
    orphans = [
        file
        for file in files
        if file.relpath not in already_removed
        and _event_id_of(file.relpath) not in known
        and now - file.mtime > orphan_grace_s
    ]
    for file in orphans:
        if _remove_orphan(data_dir, file):
            stats.orphans_removed += 1
            stats.bytes_freed += file.size
    stats.evidence_bytes = total - stats.bytes_freed
    if doomed or orphans:
        log.info("retention: %s", stats)
    return stats


def _remove_orphan(data_dir: Path, file: _EvidenceFile) -> bool:
    path = data_dir / file.relpath
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("cannot delete orphan %s: %s", path, exc)
        return False
    prune_empty_dirs(path.parent, stop_at=data_dir)
    return True
