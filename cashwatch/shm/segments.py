"""Creating, attaching and cleaning up named segments.

Python 3.11 registers a segment with the resource tracker of every process that
touches it, and that tracker unlinks it when the process exits, even for a process
that only attached (https://github.com/python/cpython/issues/82300). Readers and
workers therefore unregister right after attaching; only the manager owns segments.
"""

from __future__ import annotations

import hashlib
from multiprocessing import resource_tracker, shared_memory
from pathlib import Path

SHM_DIR = Path("/dev/shm")


def prefix_for(data_dir: Path) -> str:
    """`cw_<10 hex>_`: short (macOS-safe lengths) and unique per data_dir."""
    digest = hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:10]
    return f"cw_{digest}_"


def status_name(data_dir: Path) -> str:
    return prefix_for(data_dir) + "status"


def frame_name(data_dir: Path, slot: int) -> str:
    return prefix_for(data_dir) + f"f{slot}"


def _untrack(shm: shared_memory.SharedMemory) -> None:
    resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]


def create(name: str, size: int) -> shared_memory.SharedMemory:
    """Create a segment owned by the manager, replacing a stale one of the same name.

    The manager unlinks explicitly on stop, so the tracker must not also do it (it
    would unlink a segment a restarted manager has since re-created).
    """
    unlink_quietly(name)
    shm = shared_memory.SharedMemory(name=name, create=True, size=size)
    _untrack(shm)
    return shm


def attach(name: str) -> shared_memory.SharedMemory:
    """Attach without ownership: this process's exit never unlinks the segment."""
    shm = shared_memory.SharedMemory(name=name, create=False)
    _untrack(shm)
    return shm


def unlink_quietly(name: str) -> bool:
    try:
        shm = shared_memory.SharedMemory(name=name, create=False)
    except FileNotFoundError:
        return False
    shm.close()
    shm.unlink()  # also unregisters what the attach above registered
    return True


def existing_segments(data_dir: Path) -> list[str]:
    """Names of this installation's segments present now (Linux: /dev/shm)."""
    prefix = prefix_for(data_dir)
    if not SHM_DIR.is_dir():
        return []
    return sorted(p.name for p in SHM_DIR.iterdir() if p.name.startswith(prefix))


def remove_stale(data_dir: Path) -> list[str]:
    """Unlink every segment of this installation (a killed manager's leftovers)."""
    removed = []
    for name in existing_segments(data_dir):
        if unlink_quietly(name):
            removed.append(name)
    return removed
