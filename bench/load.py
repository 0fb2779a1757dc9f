"""The machine's load around a benchmark window, sampled once a second.

The machine is shared: another user's tests or build can take the CPU a window needs and
fail cameras that would have held (FACTS.md: gated capacity 13 one day, 6 another). So
each window records the per-core CPU (its mean, and how often each core was saturated:
an average of 70 % can hide ten seconds at 100 %) and the CPU of every process outside
the benchmark's own process tree. A window during which the outside took more than
`OUTSIDE_LIMIT_CORES` is marked disturbed and measured again.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

SAMPLE_EVERY_S = 1.0
SATURATED_PERCENT = 95.0  # a core at or above this in a second counts as saturated
OUTSIDE_LIMIT_CORES = 0.10  # 10 % of one core, averaged over the window
# A last sample shorter than this (of SAMPLE_EVERY_S) says little about saturation.
MIN_LAST_SAMPLE_SHARE = 0.5


@dataclass(frozen=True)
class ProcessCpu:
    """One process at one moment: who its parent is, when it started, its CPU so far."""

    ppid: int
    create_time: float
    cpu_s: float


def snapshot_processes() -> dict[int, ProcessCpu]:
    """Every process this user can see (all of them on Linux: /proc/<pid>/stat is public)."""
    out: dict[int, ProcessCpu] = {}
    for process in psutil.process_iter(["ppid", "create_time", "cpu_times"]):
        info = process.info
        times = info.get("cpu_times")
        if times is None or info.get("create_time") is None:
            continue  # gone between listing and reading, or not readable
        out[process.pid] = ProcessCpu(
            int(info["ppid"] or 0), float(info["create_time"]), times.user + times.system
        )
    return out


def descendants(root: int, processes: Mapping[int, ProcessCpu]) -> set[int]:
    """`root` and every process below it in `processes` (by parent pid).

    >>> tree = {1: ProcessCpu(0, 0, 0), 5: ProcessCpu(1, 0, 0), 6: ProcessCpu(5, 0, 0),
    ...         7: ProcessCpu(1, 0, 0)}
    >>> sorted(descendants(5, tree))
    [5, 6]
    """
    children: dict[int, list[int]] = {}
    for pid, process in processes.items():
        children.setdefault(process.ppid, []).append(pid)
    tree, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in tree:
                tree.add(child)
                todo.append(child)
    return tree


def outside_cpu_s(
    before: Mapping[int, ProcessCpu],
    after: Mapping[int, ProcessCpu],
    own: Collection[int],
    since: float,
) -> float:
    """CPU seconds that processes not in `own` used between two snapshots.

    A process started after `since` (the first snapshot's time) counts from its start; a
    pid seen before under another start time was reused, and counts as new. A process
    that ended between the snapshots is lost: at most one sampling period of its CPU.
    """
    total = 0.0
    for pid, now in after.items():
        if pid in own:
            continue
        old = before.get(pid)
        if old is not None and abs(old.create_time - now.create_time) < 0.5:
            total += max(0.0, now.cpu_s - old.cpu_s)
        elif now.create_time >= since - 0.5:  # create_time has clock-tick resolution
            total += now.cpu_s
    return total


def core_busy_percent(before: Sequence[Any], after: Sequence[Any]) -> list[float]:
    """Per-core busy % between two `psutil.cpu_times(percpu=True)` snapshots.

    Busy is everything but idle and iowait; guest time is already inside user time on
    Linux, so it is taken out of the total (as psutil.cpu_percent does).
    """
    out = []
    for old, new in zip(before, after, strict=True):
        total = _total(new) - _total(old)
        idle = _idle(new) - _idle(old)
        out.append(100.0 * (total - idle) / total if total > 0 else 0.0)
    return out


def _total(times: Any) -> float:
    guest = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    return float(sum(times)) - guest


def _idle(times: Any) -> float:
    return float(times.idle + getattr(times, "iowait", 0.0))


@dataclass(frozen=True)
class LoadSample:
    """One sampling period: each core's busy %, and the outside's CPU in cores."""

    seconds: float
    cores: list[float]
    outside_cores: float


def saturation_share(
    samples: Sequence[LoadSample], core: int, threshold: float = SATURATED_PERCENT
) -> float:
    """Share of the sampled time that `core` was at or above `threshold` %.

    >>> s = [LoadSample(1.0, [100.0, 10.0], 0.0), LoadSample(1.0, [94.9, 96.0], 0.0)]
    >>> saturation_share(s, 0), saturation_share(s, 1)
    (0.5, 0.5)
    """
    total = sum(s.seconds for s in samples)
    if total <= 0:
        return 0.0
    return sum(s.seconds for s in samples if s.cores[core] >= threshold) / total


@dataclass(frozen=True)
class LoadSummary:
    """The load over one stretch of time (before a window, or during it)."""

    seconds: float
    core_mean_percent: list[float]  # over the whole stretch, from its two ends
    core_saturated_share: list[float]  # share of the sampled seconds at >= 95 %
    outside_cores: float  # mean CPU of processes outside the benchmark, in cores
    outside_peak_cores: float  # the busiest sampled second's
    samples: int

    @property
    def disturbed(self) -> bool:
        """Something outside the benchmark used more than 10 % of a core on average."""
        return self.outside_cores > OUTSIDE_LIMIT_CORES

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["core_mean_percent"] = [round(v, 1) for v in self.core_mean_percent]
        out["core_saturated_share"] = [round(v, 3) for v in self.core_saturated_share]
        for key in ("seconds", "outside_cores", "outside_peak_cores"):
            out[key] = round(out[key], 3)
        out["disturbed"] = self.disturbed
        return out

    def brief(self) -> str:
        """`cores 81/77 % (saturated 20/5 %), outside 0.02 cores`."""
        mean = "/".join(f"{v:.0f}" for v in self.core_mean_percent)
        saturated = "/".join(f"{100 * v:.0f}" for v in self.core_saturated_share)
        return (
            f"cores {mean} % (saturated {saturated} % of s), outside {self.outside_cores:.2f}"
            f" cores{' DISTURBED' if self.disturbed else ''}"
        )


def summarize(
    samples: Sequence[LoadSample], core_mean_percent: list[float], seconds: float
) -> LoadSummary:
    """The summary of `samples`, with the whole stretch's per-core mean beside them."""
    sampled = sum(s.seconds for s in samples)
    outside = sum(s.outside_cores * s.seconds for s in samples) / sampled if sampled else 0.0
    return LoadSummary(
        seconds=seconds,
        core_mean_percent=core_mean_percent,
        core_saturated_share=[
            saturation_share(samples, core) for core in range(len(core_mean_percent))
        ],
        outside_cores=outside,
        outside_peak_cores=max((s.outside_cores for s in samples), default=0.0),
        samples=len(samples),
    )


@dataclass
class LoadMonitor:
    """Samples the load in a thread, once a second, while it is open (a context manager).

    `root` is the benchmark's own process (this one by default): it and every process
    below it (managers, camera workers, inference services) are not "outside".
    """

    every_s: float = SAMPLE_EVERY_S
    root: int = field(default_factory=os.getpid)
    samples: list[LoadSample] = field(default_factory=list)

    def __enter__(self) -> LoadMonitor:
        self._stop = threading.Event()
        self._started = self._last_at = time.monotonic()
        self._first_cores = self._last_cores = psutil.cpu_times(percpu=True)
        self._since = time.time()
        self._last_processes = snapshot_processes()
        self._thread = threading.Thread(target=self._run, name="bench-load", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):  # the sampling period, not a condition
            self._sample()

    def _sample(self) -> None:
        now, cores, processes = (
            time.monotonic(),
            psutil.cpu_times(percpu=True),
            snapshot_processes(),
        )
        own = descendants(self.root, processes) | descendants(self.root, self._last_processes)
        seconds = max(now - self._last_at, 1e-6)
        outside = outside_cpu_s(self._last_processes, processes, own, self._since)
        self.samples.append(
            LoadSample(seconds, core_busy_percent(self._last_cores, cores), outside / seconds)
        )
        self._last_at, self._last_cores, self._last_processes = now, cores, processes
        self._since = time.time()

    def hold(self, seconds: float) -> None:
        """Block for `seconds` while sampling (a stretch to sample, not a condition)."""
        self._stop.wait(seconds)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        if time.monotonic() - self._last_at >= MIN_LAST_SAMPLE_SHARE * self.every_s:
            self._sample()
        self._ended = time.monotonic()
        self._end_cores = psutil.cpu_times(percpu=True)

    def summary(self) -> LoadSummary:
        """The summary once closed."""
        return summarize(
            self.samples,
            core_busy_percent(self._first_cores, self._end_cores),
            self._ended - self._started,
        )


def sample_load(seconds: float) -> LoadSummary:
    """The load over the next `seconds` (blocks that long)."""
    with LoadMonitor() as monitor:
        monitor.hold(seconds)
    return monitor.summary()
