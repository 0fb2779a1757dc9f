"""Which core a new worker is pinned to.

Cores are chosen by measured load, not round-robin: with an odd number of cameras,
strict round-robin left one core behind while the other had room (FACTS.md).
"""

from __future__ import annotations

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
    cores: list[int], assigned: Mapping[str, int], load_percent: Mapping[str, float], slot: int
) -> int:
    """The core with the least measured worker CPU, then the fewest workers.

    `assigned` maps camera id to core, `load_percent` camera id to its worker's CPU %.
    Workers that have not been measured yet count as the average measured load, so a
    burst of new cameras still spreads out. Falls back to `slot % len(cores)`.
    """
    if not cores:
        raise ValueError("no usable CPU cores")
    measured = [load for load in load_percent.values() if load > 0]
    default_load = sum(measured) / len(measured) if measured else 1.0
    totals = {core: 0.0 for core in cores}
    counts = {core: 0 for core in cores}
    for camera_id, core in assigned.items():
        if core in totals:
            totals[core] += load_percent.get(camera_id) or default_load
            counts[core] += 1
    fallback = cores[slot % len(cores)]
    return min(cores, key=lambda c: (round(totals[c], 1), counts[c], c != fallback, c))


def pin(pid: int, core: int) -> bool:
    try:
        psutil.Process(pid).cpu_affinity([core])
        return True
    except (AttributeError, psutil.Error):
        return False
