"""Where clips and snapshots live under the data folder, and removing them safely.

Paths stored in events are relative to the data folder (so an installation can move)
and always use '/'. Dates in folder names are the local calendar day of the event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from cashwatch.evidence.storage import (
    CLIPS_DIR,
    EVIDENCE_DIRS,
    SNAPSHOTS_DIR,
    delete_evidence_url,
    is_url,
)

log = logging.getLogger(__name__)


def _day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(ts))


def clip_relpath(camera_id: str, event_id: str, ts: float) -> str:
    """`clips/<YYYY-MM-DD>/<camera>/<event_id>.mp4`."""
    return f"{CLIPS_DIR}/{_day(ts)}/{camera_id}/{event_id}.mp4"


def snapshot_relpath(camera_id: str, event_id: str, ts: float) -> str:
    """`snapshots/<YYYY-MM-DD>/<camera>/<event_id>.jpg`."""
    return f"{SNAPSHOTS_DIR}/{_day(ts)}/{camera_id}/{event_id}.jpg"


def resolve_evidence(data_dir: Path, relpath: str) -> Path:
    """Absolute path of a stored clip/snapshot path; refuses anything outside the evidence folders.

    Paths come from journal lines, which are files on disk: a damaged or hostile line
    must not make retention delete `../cashwatch.toml`.
    """
    parts = PurePosixPath(relpath).parts
    if len(parts) < 2 or parts[0] not in EVIDENCE_DIRS or ".." in parts or relpath.startswith("/"):
        raise ValueError(f"evidence path {relpath!r} is not under {' or '.join(EVIDENCE_DIRS)}/")
    return Path(data_dir).joinpath(*parts)


def remove_evidence(data_dir: Path, relpaths: Iterable[str | None]) -> tuple[int, int]:
    """Delete the given clip/snapshot files; returns (files removed, bytes freed).

    Missing files are fine (already deleted, or never written); empty day/camera
    folders left behind are removed too.
    """
    removed = freed = 0
    for relpath in relpaths:
        if not relpath:
            continue
        if is_url(relpath):  # kept in shared storage (see cashwatch.evidence.storage)
            try:
                size = delete_evidence_url(relpath)
            except (OSError, ValueError) as exc:
                log.warning("not deleting %s: %s", relpath, exc)
                continue
            removed, freed = removed + (size > 0), freed + size
            continue
        try:
            path = resolve_evidence(data_dir, relpath)
        except ValueError as exc:
            log.warning("not deleting: %s", exc)
            continue
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot delete %s: %s", path, exc)
            continue
        removed += 1
        freed += size
        prune_empty_dirs(path.parent, stop_at=Path(data_dir))
    return removed, freed


def prune_empty_dirs(folder: Path, stop_at: Path) -> None:
    """Remove `folder` and its empty parents, stopping below the evidence roots."""
    roots = {stop_at / name for name in EVIDENCE_DIRS} | {stop_at}
    while folder not in roots and stop_at in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or already gone): stop climbing
        folder = folder.parent
