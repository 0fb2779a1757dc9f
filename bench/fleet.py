"""What a benchmark window measures on a fleet of cameras, and when it counts as real time.

A fleet is the baseline's workers or a CashWatch manager with its workers; both expose
cumulative counters per camera, so a window is two snapshots and their difference.
Real time is judged on those counts: every camera read at least 95 % of the frames its
source sent in the window, and served at least 95 % of the sampled frames due.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Protocol

import psutil

from bench.load import LoadMonitor, LoadSummary, sample_load

SOURCE_FPS = 15.0
REALTIME_FRACTION = 0.95
# Live frame age may wobble by a frame interval or two; more than this is a backlog.
AGE_GROWTH_LIMIT_S = 0.25
AGE_SAMPLE_EVERY_S = 0.25


@dataclass(frozen=True)
class CameraCounters:
    """Cumulative counts of one camera at time `ts` (epoch seconds).

    `served` counts sampled frames the detector dealt with: analysed, or (gating on)
    found still by the motion gate.
    """

    frames_read: int
    served: int
    inferences: int
    inference_ms: float  # recent mean per inference
    ts: float


@dataclass(frozen=True)
class CameraWindow:
    """What one camera did over a window: counts, and the seconds they took."""

    camera_id: str
    seconds: float
    frames: int  # frames read
    served: int  # sampled frames served (see CameraCounters)
    inferences: int
    inference_ms: float

    @property
    def camera_fps(self) -> float:
        return self.frames / self.seconds

    @property
    def served_fps(self) -> float:
        return self.served / self.seconds

    @property
    def inference_fps(self) -> float:
        return self.inferences / self.seconds


@dataclass
class WindowResult:
    """One measuring window over a fleet of `n` cameras."""

    n: int
    seconds: float
    cameras: list[CameraWindow]
    cpu_percent: float  # whole machine, 100 per core
    busiest_core_percent: float = 0.0  # the busiest core's, 0-100
    age_growth_s: float = 0.0  # the worst camera's
    cpu_s_per_camera_s: float = 0.0  # the fleet's own processes (workers), per camera
    ages_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    load_before: LoadSummary | None = None  # the settling seconds just before
    load: LoadSummary | None = None  # during the window

    @property
    def realtime(self) -> bool:
        return not self.failures and len(self.cameras) == self.n

    @property
    def disturbed(self) -> bool:
        """Something outside the benchmark took CPU during the window: not a fair test."""
        return self.load is not None and self.load.disturbed

    def summary(self) -> str:
        fps = [c.camera_fps for c in self.cameras] or [0.0]
        served = [c.served_fps for c in self.cameras] or [0.0]
        verdict = "real time" if self.realtime else "NOT real time: " + "; ".join(self.failures[:3])
        load = f"; {self.load.brief()}" if self.load is not None else ""
        return (
            f"N={self.n}: camera fps min {min(fps):.2f}, served/s min {min(served):.2f}, "
            f"CPU {self.cpu_percent:.0f}%{load} -> {verdict}"
        )


class Fleet(Protocol):
    kind: str
    detect_target_fps: float

    @property
    def size(self) -> int: ...

    def resize(self, n: int) -> None: ...

    def counters(self) -> dict[str, CameraCounters]: ...

    def frame_ages_s(self) -> list[float]: ...

    def pids(self) -> list[int]: ...

    def service_pids(self) -> list[int]:
        """Processes that work for every camera (shared inference services): their CPU
        is the fleet's too."""
        ...

    def close(self) -> None: ...


def compare(camera_id: str, start: CameraCounters, end: CameraCounters) -> CameraWindow:
    return CameraWindow(
        camera_id,
        max(end.ts - start.ts, 1e-6),
        end.frames_read - start.frames_read,
        end.served - start.served,
        end.inferences - start.inferences,
        end.inference_ms,
    )


def age_growth_s(series: list[float]) -> float:
    """Median age in the last third of a window minus that in the first third."""
    if len(series) < 6:
        return 0.0
    third = len(series) // 3
    return statistics.median(series[-third:]) - statistics.median(series[:third])


def needed(rate: float, seconds: float) -> int:
    """The fewest events in `seconds` that keep `REALTIME_FRACTION` of `rate`: a count,
    so a verdict never rests on how a rate was rounded.

    >>> needed(3.75, 60.0), needed(15.0, 20.0)
    (214, 285)
    """
    # the tolerance: 0.95 * 15 * 20 is 285.00000000000006 in floating point
    return math.ceil(REALTIME_FRACTION * rate * seconds - 1e-6)


def judge(window: CameraWindow, detect_target_fps: float) -> list[str]:
    """Why a camera is not in real time (empty when it is), judged on counts."""
    problems = []
    for what, count, rate in (
        ("read", window.frames, SOURCE_FPS),
        ("detected", window.served, detect_target_fps),
    ):
        need = needed(rate, window.seconds)
        if count < need:
            problems.append(
                f"{window.camera_id} {what} {count} in {window.seconds:.1f} s, needs {need}"
                f" ({REALTIME_FRACTION:.0%} of {rate * window.seconds:.1f})"
            )
    return problems


def measure_window(fleet: Fleet, seconds: float, before_s: float = 0.0) -> WindowResult:
    """Counters at both ends of `seconds`, live frame ages sampled in between; the
    machine's load sampled over the `before_s` seconds before and over the window."""
    load_before = sample_load(before_s) if before_s > 0 else None
    start = fleet.counters()
    processes = _processes(fleet.pids() + fleet.service_pids())
    cpu_start = _cpu_s(processes)
    started = time.monotonic()
    per_camera_ages: dict[int, list[float]] = {}
    all_ages: list[float] = []
    with LoadMonitor() as monitor:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ages = fleet.frame_ages_s()
            for index, age in enumerate(ages):
                per_camera_ages.setdefault(index, []).append(age)
            all_ages.extend(ages)
            time.sleep(AGE_SAMPLE_EVERY_S)  # the sampling period of a viewer, not a condition
        end = fleet.counters()
        own_cpu = (_cpu_s(processes) - cpu_start) / max(time.monotonic() - started, 1e-6)
    load = monitor.summary()
    growth = max((age_growth_s(s) for s in per_camera_ages.values()), default=0.0)
    cameras = [compare(cid, start[cid], end[cid]) for cid in end if cid in start]
    result = WindowResult(
        fleet.size,
        seconds,
        cameras,
        sum(load.core_mean_percent),
        max(load.core_mean_percent, default=0.0),
        growth,
        own_cpu / max(1, fleet.size),
        all_ages,
        load_before=load_before,
        load=load,
    )
    for camera in cameras:
        result.failures.extend(judge(camera, fleet.detect_target_fps))
    if growth > AGE_GROWTH_LIMIT_S:
        result.failures.append(f"live frame age grew {growth:.2f} s over the window")
    if len(cameras) < fleet.size:
        result.failures.append(f"only {len(cameras)} of {fleet.size} cameras report")
    return result


def _processes(pids: list[int]) -> list[psutil.Process]:
    out = []
    for pid in pids:
        try:
            out.append(psutil.Process(pid))
        except psutil.Error:
            continue
    return out


def _cpu_s(processes: list[psutil.Process]) -> float:
    """User + system CPU seconds of these processes and of their children that ended
    (a worker's clip encoders, waited for by the worker); a gone process counts 0."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total
