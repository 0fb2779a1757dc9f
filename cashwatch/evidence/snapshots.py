"""The annotated still of an event, next to its clip."""

from __future__ import annotations

from pathlib import Path

from cashwatch.evidence.paths import snapshot_relpath
from cashwatch.util.files import atomic_write_bytes


class EvidenceWriteError(OSError):
    """A clip or snapshot could not be written; the event is still recorded without it."""


def save_snapshot(data_dir: Path, camera_id: str, event_id: str, ts: float, jpeg: bytes) -> str:
    """Write `snapshots/<YYYY-MM-DD>/<camera>/<event_id>.jpg` atomically; returns that path.

    Raises EvidenceWriteError (an OSError) naming the file and the reason, e.g. a full
    disk, so the worker can journal the event with `snapshot_path=None`.

    >>> save_snapshot(data_dir, "cam1", event.event_id, event.ts, jpeg)   # doctest: +SKIP
    'snapshots/2025-01-31/cam1/0194....jpg'
    """
    if not jpeg:
        raise ValueError(f"empty snapshot for event {event_id}")
    relpath = snapshot_relpath(camera_id, event_id, ts)
    path = Path(data_dir) / relpath
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, jpeg)
    except OSError as exc:
        raise EvidenceWriteError(
            exc.errno, f"cannot write snapshot {path}: {exc.strerror or exc}"
        ) from exc
    return relpath
