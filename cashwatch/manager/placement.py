"""Which core a new worker is pinned to.

Cores are chosen by measured load, not round-robin: with an odd number of cameras,
strict round-robin left one core behind while the other had room (FACTS.md).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping

import psutil


def usable_cores() -> list[int]:
    """Cores this process may run on; with 3+ cores, core 0 is left to the manager
    and the dashboard."""
    try:
        cores = sorted(psutil.Process().cpu_affinity() or [])
    except (AttributeError, psutil.Error):  # platforms without affinity support
        cores = list(range(psutil.cpu_count() or 1))
    return cores[1:] if len(cores) >= 3 else cores


def choose_core(
    cores: list[int],
    assigned: Mapping[str, int],
    load_percent: Mapping[str, float],
    slot: int,
    other_load: Mapping[int, float] | None = None,
) -> int:
    """The core with the least measured worker CPU, then the fewest workers.

    `assigned` maps camera id to core, `load_percent` camera id to its worker's CPU %.
    Workers that have not been measured yet count as the average measured load, so a
    burst of new cameras still spreads out. `other_load` is what else each core carries
    (the inference services, other programs: `Balancer.other_load`). Falls back to
    `slot % len(cores)`.
    """
    if not cores:
        raise ValueError("no usable CPU cores")
    measured = [load for load in load_percent.values() if load > 0]
    default_load = sum(measured) / len(measured) if measured else 1.0
    totals = {core: (other_load or {}).get(core, 0.0) for core in cores}
    counts = {core: 0 for core in cores}
    for camera_id, core in assigned.items():
        if core in totals:
            totals[core] += load_percent.get(camera_id) or default_load
            counts[core] += 1
    fallback = cores[slot % len(cores)]
    return min(cores, key=lambda c: (round(totals[c], 1), counts[c], c != fallback, c))


def pin(pid: int, core: int) -> bool:
    """Pin a process, every thread of it, and its children to one core.

    Linux keeps an affinity per thread, and psutil's `cpu_affinity` sets the main
    thread's only: a running worker's reader (the decoder) and verifier threads would
    stay behind. A thread started meanwhile takes its creator's affinity, so a second
    pass catches those the first missed. The children are a worker's clip encoders
    (`evidence.encoder_process`), which would otherwise finish their clip on the core
    the worker was moved off.

    Args:
        pid: The process.
        core: The core.

    Returns:
        Whether it is pinned (False where affinity is not supported, or it is gone).
    """
    try:
        process = psutil.Process(pid)
        _pin_threads(process, core)
    except (AttributeError, psutil.Error, OSError):
        return False
    with contextlib.suppress(psutil.Error, OSError):  # a child that ended meanwhile
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error, OSError):
                _pin_threads(child, core)
    return True


def _pin_threads(process: psutil.Process, core: int) -> None:
    process.cpu_affinity([core])
    for _ in range(2):
        for thread in process.threads():
            try:
                os.sched_setaffinity(thread.id, {core})
            except ProcessLookupError:  # the thread ended meanwhile
                continue
