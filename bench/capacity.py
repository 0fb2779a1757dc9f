"""The largest number of cameras a fleet keeps in real time: the edge, found.

The search ends only at the edge: N held and N + 1 failed, both over the full window.
It runs in two phases:

1. Probing (short windows), to bracket the edge cheaply: from the guess, step up until a
   probe fails (steps grow with N), then bisect between the largest N that held and the
   smallest that failed. A guess that fails (a target tried first) sends the search to
   `fallback` before bisecting. A probe that fails while every core still has CPU to
   spare is measured again over the full window before it counts: a short window just
   after a worker started can fail on that start alone (measured: six gated cameras
   failed a 15 s probe with the machine 65 % busy, then held for 60 s with no sample
   dropped). One that fails with a core saturated is overloaded (workers are pinned, so
   one full core is enough), and is not measured again.
2. Confirming (full windows): from the bracket's N, a full window; one that holds walks
   up one camera at a time until a full window fails, one that fails walks down until a
   full window holds. Full windows already taken at an N are reused.

A window that something outside the benchmark disturbed (`WindowResult.disturbed`) is
measured again, up to `max_remeasure` times, and kept aside. There is no budget that
stops the search before the edge unless one is given (`max_windows`, for a smoke run):
then the result is a lower bound (`edge_found` false). The fleet is resized in place
between windows, so each step costs one worker start or stop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.fleet import Fleet, WindowResult, measure_window

SETTLE_S = 3.0  # after a worker starts, its neighbours' timing needs a moment to settle
# A failed probe whose busiest core stayed below this (%) is measured again.
SPARE_CORE_PERCENT = 90.0
MAX_N = 64  # the bench manager's max_cameras
MAX_REMEASURE = 2  # a window disturbed from outside is measured again at most this often

Measure = Callable[[int, float], WindowResult]  # (cameras, seconds) -> one window


def window_dict(w: WindowResult) -> dict[str, Any]:
    """One window as the results JSON keeps it."""
    return {
        "n": w.n,
        "seconds": w.seconds,
        "realtime": w.realtime,
        "cpu_percent": round(w.cpu_percent, 1),
        "busiest_core_percent": round(w.busiest_core_percent, 1),
        "cpu_s_per_camera_s": round(w.cpu_s_per_camera_s, 4),
        "fleet_cpu_percent": round(100 * w.cpu_s_per_camera_s * w.n, 1),
        "min_camera_fps": round(min((c.camera_fps for c in w.cameras), default=0.0), 2),
        "min_served_fps": round(min((c.served_fps for c in w.cameras), default=0.0), 2),
        "failures": w.failures[:4],
        "disturbed": w.disturbed,
        "load_before": w.load_before.as_dict() if w.load_before else None,
        "load": w.load.as_dict() if w.load else None,
    }


@dataclass
class CapacityResult:
    kind: str
    cameras: int
    trail: list[WindowResult] = field(default_factory=list)  # the windows that counted
    confirmed: WindowResult | None = None  # the full-length window at `cameras`
    edge_found: bool = False  # cameras + 1 failed over a full window (else a lower bound)
    disturbed: list[WindowResult] = field(default_factory=list)  # measured again
    failed_above: WindowResult | None = None  # the full-length window at cameras + 1

    def as_dict(self) -> dict[str, object]:
        return {
            "cameras": self.cameras,
            "confirm_window_s": self.confirmed.seconds if self.confirmed else None,
            "edge_found": self.edge_found,
            # a window deciding the edge stayed disturbed from outside through every retry
            "edge_disturbed": any(
                w is not None and w.disturbed for w in (self.confirmed, self.failed_above)
            ),
            "trail": [window_dict(w) for w in self.trail],
            "disturbed": [window_dict(w) for w in self.disturbed],
        }


class OutOfWindows(Exception):
    """The search's window budget is spent (smoke runs only)."""


def measure_undisturbed(
    measure: Callable[[], WindowResult],
    max_remeasure: int,
    aside: list[WindowResult],
    log: Callable[[str], None],
) -> WindowResult:
    """A window no outside load disturbed, measured up to `max_remeasure` more times;
    the disturbed ones go to `aside`. The last is kept, marked, if all were disturbed."""
    window = measure()
    for _ in range(max_remeasure):
        if not window.disturbed:
            break
        aside.append(window)
        brief = window.load.brief() if window.load else ""
        log(f"N={window.n}: disturbed from outside ({brief}), measuring again")
        window = measure()
    return window


def next_probe(held: int, failed: int, max_n: int, fallback: int | None = None) -> int:
    """Where to probe next, given the largest N that held (0: none) and the smallest that
    failed (max_n + 1: none).

    >>> next_probe(3, 65, 64), next_probe(12, 65, 64), next_probe(12, 15, 64)
    (4, 15, 13)
    >>> next_probe(0, 12, 64, fallback=7), next_probe(0, 7, 64, fallback=7)
    (7, 3)
    """
    if failed > max_n:  # nothing failed yet: step up, by a quarter (bisecting back is cheap)
        return min(max_n, held + max(1, held // 4))
    if held == 0 and fallback is not None and 0 < fallback < failed:
        return fallback
    return (held + failed) // 2


class _Search:
    """The state of one search: the windows so far and the full-window verdicts."""

    def __init__(
        self,
        measure: Measure,
        result: CapacityResult,
        confirm_s: float,
        max_windows: int | None,
        max_remeasure: int,
        log: Callable[[str], None],
    ) -> None:
        self.measure = measure
        self.result = result
        self.confirm_s = confirm_s
        self.max_windows = max_windows
        self.max_remeasure = max_remeasure
        self.log = log
        self.full: dict[int, WindowResult] = {}  # the latest full-length window per N

    def window(self, n: int, seconds: float) -> WindowResult:
        """One counted window; a disturbed one is measured again (and kept aside). The
        budget counts the windows kept: the retries are bounded by `max_remeasure`."""
        if self.max_windows is not None and len(self.result.trail) >= self.max_windows:
            raise OutOfWindows
        window = measure_undisturbed(
            lambda: self.measure(n, seconds),
            self.max_remeasure,
            self.result.disturbed,
            lambda message: self.log(f"[{self.result.kind}] {message}"),
        )
        self.result.trail.append(window)
        if seconds >= self.confirm_s:
            self.full[n] = window
        return window

    def full_verdict(self, n: int) -> bool | None:
        window = self.full.get(n)
        return None if window is None else window.realtime

    def probe(self, n: int, probe_s: float, spare_core_percent: float) -> bool:
        window = self.window(n, probe_s)
        if (
            not window.realtime
            and self.confirm_s > probe_s
            and window.busiest_core_percent < spare_core_percent
        ):
            window = self.window(n, self.confirm_s)
        return window.realtime

    def bracket(
        self,
        guess: int,
        probe_s: float,
        spare_core_percent: float,
        max_n: int,
        fallback: int | None,
    ) -> int:
        """Phase 1: the largest N whose probe held next to one that failed (0: none held)."""
        held, failed, n = 0, max_n + 1, guess
        while failed - held > 1:
            if self.probe(n, probe_s, spare_core_percent):
                held = n
            else:
                failed = n
            n = next_probe(held, failed, max_n, fallback)
        return held

    def confirm(self, n: int, max_n: int) -> tuple[int, bool]:
        """Phase 2: walk from `n` in full windows to N held next to N + 1 failed.

        Returns (N, whether N + 1 failed). Each step goes one way only (up after a hold,
        down after a failure) and a turn ends it, so the walk ends.
        """
        while True:
            held = self.full_verdict(n)
            if held is None:
                held = self.window(n, self.confirm_s).realtime
            if held:
                if self.full_verdict(n + 1) is False:
                    return n, True
                if n >= max_n:
                    return n, False
                n += 1
            else:
                if n == 1:
                    return 0, True
                if self.full_verdict(n - 1) is True:
                    return n - 1, True
                n -= 1

    def lower_bound(self) -> int:
        """The largest N a full window held at, when the budget ran out first."""
        return max((n for n, w in self.full.items() if w.realtime), default=0)


def search_edge(
    measure: Measure,
    kind: str,
    guess: int,
    probe_s: float,
    confirm_s: float,
    log: Callable[[str], None] = print,
    max_n: int = MAX_N,
    max_windows: int | None = None,
    spare_core_percent: float = SPARE_CORE_PERCENT,
    fallback: int | None = None,
    max_remeasure: int = MAX_REMEASURE,
) -> CapacityResult:
    """The edge of `measure`'s fleet, from `guess` (see the module's docstring).

    With `probe_s >= confirm_s` there are no probes: the walk starts at `guess` in full
    windows (a repetition starting from the previous one's edge).
    """
    if guess < 1 or probe_s <= 0 or confirm_s <= 0:
        raise ValueError(
            f"need guess >= 1 and positive windows; got guess={guess}, "
            f"probe_s={probe_s}, confirm_s={confirm_s}"
        )
    guess = min(guess, max_n)
    result = CapacityResult(kind, 0)
    search = _Search(measure, result, confirm_s, max_windows, max_remeasure, log)
    try:
        start = guess
        if probe_s < confirm_s:
            start = max(1, search.bracket(guess, probe_s, spare_core_percent, max_n, fallback))
        result.cameras, result.edge_found = search.confirm(start, max_n)
    except OutOfWindows:
        log(f"[{kind}] out of windows: the capacity found is a lower bound")
        result.cameras, result.edge_found = search.lower_bound(), False
    result.confirmed = search.full.get(result.cameras)
    if result.edge_found:
        result.failed_above = search.full.get(result.cameras + 1)
    return result


def _window(
    fleet: Fleet, n: int, seconds: float, log: Callable[[str], None], settle_s: float = SETTLE_S
) -> WindowResult:
    log(f"[{fleet.kind}] {n} camera(s): starting workers")
    fleet.resize(n)
    # a fixed settling time, not a condition (the workers already run); its load is
    # recorded as the load before the window
    log(f"[{fleet.kind}] {n} camera(s): measuring {seconds:g} s")
    result = measure_window(fleet, seconds, before_s=settle_s)
    log(f"[{fleet.kind}] {result.summary()}")
    return result


def find_capacity(
    fleet: Fleet,
    guess: int,
    probe_s: float,
    confirm_s: float,
    log: Callable[[str], None] = print,
    settle_s: float = SETTLE_S,
    **options: Any,
) -> CapacityResult:
    """`search_edge` over real windows of `fleet` (options: see `search_edge`)."""
    return search_edge(
        lambda n, seconds: _window(fleet, n, seconds, log, settle_s),
        fleet.kind,
        guess,
        probe_s,
        confirm_s,
        log,
        **options,
    )
