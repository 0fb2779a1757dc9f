"""Moving a camera worker to another core when one core carries more than its share.

A worker is pinned where the measured load is least when it starts
(`placement.choose_core`), but what each core carries changes afterwards: cameras that
start together are placed before any of them is measured, scenes get busy or quiet,
and the first inference service also runs the violence verifier's video windows (~11 %
of its core with 11 gated cameras on the walking footage, measured 2026-12-07). A
pinned worker cannot borrow the other core, so a core at its limit makes its cameras
miss detections while another has room. Every `Balancer.every_s` the manager measures
each usable core's use over the period (everything that ran there, services, the
manager and other programs included) and each worker's, and moves at most one worker
when that narrows the gap: `placement.pin` re-pins a running process, every thread of
it, without a restart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

PROC_STAT = Path("/proc/stat")
CLOCK_TICKS = float(os.sysconf("SC_CLK_TCK"))

# Below this gap (percentage points of one core) the cores count as even, and a move
# must narrow the gap by half as much: less would chase the noise of a 30-s measurement,
# and could move the same worker back and forth.
MIN_GAP_PERCENT = 10.0
# A worker just moved stays put this many periods: its first period on the new core
# measures the move itself.
REST_PERIODS = 3
# Cores both below this have room for a burst: nothing is moved.
BUSY_PERCENT = 60.0
EVERY_S = 30.0


@dataclass(frozen=True)
class Move:
    """One worker to re-pin."""

    camera_id: str
    from_core: int
    to_core: int


def choose_move(
    core_load: Mapping[int, float],
    workers: Mapping[str, tuple[int, float]],
    min_gap: float = MIN_GAP_PERCENT,
    busy: float = BUSY_PERCENT,
) -> Move | None:
    """The worker whose move from the busiest core to the idlest leaves them most even.

    Moving a worker that uses `w` turns a gap `g` into `|g - 2w|`; it moves only when
    that narrows the gap by at least `min_gap / 2` (a worker about as heavy as the gap
    would just swap the cores' roles).

    >>> choose_move({0: 91.0, 1: 72.0}, {"a": (0, 8.0), "b": (0, 3.0), "c": (1, 8.0)})
    Move(camera_id='a', from_core=0, to_core=1)
    >>> choose_move({0: 91.0, 1: 84.0}, {"a": (0, 8.0)}) is None  # even enough
    True

    Args:
        core_load: Each usable core's use over the period, percent of that core.
        workers: Camera id -> (its core, its CPU percent over the period).
        min_gap: The least gap, in percentage points, worth a move.
        busy: Below this on every core, nothing moves.

    Returns:
        The move; None when the cores are even enough, both have room, or no worker's
        move would narrow the gap.
    """
    if len(core_load) < 2:
        return None
    busiest = max(core_load, key=lambda core: (core_load[core], -core))
    idlest = min(core_load, key=lambda core: (core_load[core], core))
    gap = core_load[busiest] - core_load[idlest]
    if gap < min_gap or core_load[busiest] < busy:
        return None
    fits = [
        (abs(gap - 2 * load), camera_id)
        for camera_id, (core, load) in workers.items()
        if core == busiest and load > 0 and gap - abs(gap - 2 * load) >= min_gap / 2
    ]
    if not fits:
        return None
    return Move(min(fits)[1], busiest, idlest)


class Balancer:
    """Measures the cores and the workers over each period and proposes moves.

    Args:
        cores: The cores workers may be pinned to (`placement.usable_cores`).
        every_s: The measuring period, seconds; 0 moves nothing.
    """

    def __init__(self, cores: Sequence[int], every_s: float = EVERY_S) -> None:
        self.cores = list(cores)
        self.every_s = every_s
        self._since = time.monotonic()
        self._core_times = self._busy_times()
        # (pid, start time) -> its CPU seconds at the period's start; the start time
        # tells a restarted worker that got a used pid from the one before
        self._worker_times: dict[tuple[int, float], float] = {}
        self._resting: dict[str, int] = {}  # camera id -> periods it stays put
        self.other_load: dict[int, float] = {}  # core -> what ran there but the workers

    def due(self) -> bool:
        """Whether a period has ended, so that `step` measures (the manager asks every loop).

        Returns:
            True when balancing is on and `every_s` has passed since the last measure.
        """
        return self.every_s > 0 and time.monotonic() - self._since >= self.every_s

    def step(self, workers: Mapping[str, tuple[int, int]]) -> Move | None:
        """At the end of a period: the move that evens the cores, if one does.

        Args:
            workers: Camera id -> (its worker's pid, its core), for the workers running.

        Returns:
            A move to carry out (`placement.pin`); None before the period ends, or
            when none is worth it. A worker that started during the period counts
            from the next.
        """
        if not self.due() or len(self.cores) < 2:
            return None
        now = time.monotonic()
        elapsed, self._since = now - self._since, now
        core_times, self._core_times = self._core_times, self._busy_times()
        core_load = {
            core: (self._core_times[core] - core_times[core]) / elapsed * 100.0
            for core in self.cores
            if core in core_times and core in self._core_times
        }
        started, self._worker_times = self._worker_times, {}
        loads: dict[str, tuple[int, float]] = {}
        for camera_id, (pid, core) in workers.items():
            measured = _cpu_seconds(pid)
            if measured is None:
                continue
            key, seconds = measured
            self._worker_times[key] = seconds
            if key in started:
                loads[camera_id] = (core, (seconds - started[key]) / elapsed * 100.0)
        # a core with a worker not measured yet keeps its last figure: its use includes
        # that worker, which choose_core counts again
        unmeasured = {core for camera_id, (_, core) in workers.items() if camera_id not in loads}
        self.other_load = {
            core: (
                self.other_load.get(core, 0.0)
                if core in unmeasured
                else max(0.0, load - sum(w for c, w in loads.values() if c == core))
            )
            for core, load in core_load.items()
        }
        movable = {c: load for c, load in loads.items() if c not in self._resting}
        move = choose_move(core_load, movable)
        self._resting = {c: n - 1 for c, n in self._resting.items() if n > 1 and c in workers}
        if move is not None:
            self._resting[move.camera_id] = REST_PERIODS
        return move

    def _busy_times(self) -> dict[int, float]:
        """Seconds each usable core has spent on anything but idling, since boot."""
        busy = busy_seconds()
        return {core: busy[core] for core in self.cores if core in busy}


def busy_seconds(stat: Path = PROC_STAT) -> dict[int, float]:
    """Each CPU's busy time since boot, by its number in `/proc/stat`.

    By number, not by position: a machine with a CPU offline lists the others only.
    Guest time is counted in user time already; steal counts as busy (the core was not
    there for us).

    Args:
        stat: The kernel's counters (a test may pass a file of its own).

    Returns:
        CPU number -> seconds; empty where there is no such file (not Linux).
    """
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return {}
    busy = {}
    for line in lines:
        name, *fields = line.split() or [""]
        if not (name.startswith("cpu") and name[3:].isdigit()):
            continue
        ticks = [float(value) for value in fields[:8]]  # user, nice, system, idle .. steal
        busy[int(name[3:])] = (sum(ticks) - sum(ticks[3:5])) / CLOCK_TICKS  # not idle, iowait
    return busy


def _cpu_seconds(pid: int) -> tuple[tuple[int, float], float] | None:
    try:
        process = psutil.Process(pid)
        user, system = process.cpu_times()[:2]
        return (pid, process.create_time()), float(user + system)
    except psutil.Error:
        return None
