"""The largest number of cameras a fleet keeps in real time, found by stepping N.

Short probe windows walk N up (or down) from a guess to the first failure; the best
N is then confirmed over the full window, stepping down if it no longer holds. A probe
that fails while every core still has CPU to spare is measured again over the full
window before N counts as too many: a short window just after a worker started can fail
on that start alone (measured: six gated cameras failed a 15 s probe with the machine
65 % busy, then held for 60 s with no sample dropped). A probe that fails with a core
saturated is overloaded (workers are pinned, so one full core is enough), and is not
measured again. The fleet is resized in place between windows, so each step costs one
worker start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.fleet import Fleet, WindowResult, measure_window

SETTLE_S = 3.0  # after a worker starts, its neighbours' timing needs a moment to settle
# A failed probe whose busiest core stayed below this (%) is measured again.
SPARE_CORE_PERCENT = 90.0


@dataclass
class CapacityResult:
    kind: str
    cameras: int
    trail: list[WindowResult] = field(default_factory=list)
    confirmed: WindowResult | None = None  # the full-length window at `cameras`
    edge_found: bool = False  # cameras + 1 was tried and failed (else a lower bound)

    def as_dict(self) -> dict[str, object]:
        return {
            "cameras": self.cameras,
            "confirm_window_s": self.confirmed.seconds if self.confirmed else None,
            "edge_found": self.edge_found,
            "trail": [
                {
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
                }
                for w in self.trail
            ],
        }


def _window(
    fleet: Fleet, n: int, seconds: float, log: Callable[[str], None], settle_s: float = SETTLE_S
) -> WindowResult:
    log(f"[{fleet.kind}] {n} camera(s): starting workers")
    fleet.resize(n)
    time.sleep(settle_s)  # a fixed settling time, not a condition: workers already run
    log(f"[{fleet.kind}] {n} camera(s): measuring {seconds:g} s")
    result = measure_window(fleet, seconds)
    log(f"[{fleet.kind}] {result.summary()}")
    return result


def find_capacity(
    fleet: Fleet,
    guess: int,
    probe_s: float,
    confirm_s: float,
    log: Callable[[str], None] = print,
    max_n: int = 40,
    max_probes: int = 8,
    settle_s: float = SETTLE_S,
    spare_core_percent: float = SPARE_CORE_PERCENT,
    fallback: int | None = None,
) -> CapacityResult:
    """Step from `guess` to the edge with `probe_s` windows, confirm with `confirm_s`;
    a failed probe whose busiest core stayed below `spare_core_percent` is measured again.

    `fallback`, below `guess`: where the search goes on when `guess` (a target tried
    first) fails, instead of stepping down from it one camera at a time."""
    if guess < 1 or probe_s <= 0 or confirm_s <= 0:
        raise ValueError(
            f"need guess >= 1 and positive windows; got guess={guess}, "
            f"probe_s={probe_s}, confirm_s={confirm_s}"
        )
    result = CapacityResult(fleet.kind, 0)

    def holds(n: int) -> bool:
        probe = _window(fleet, n, probe_s, log, settle_s)
        result.trail.append(probe)
        if (
            not probe.realtime
            and confirm_s > probe_s
            and probe.busiest_core_percent < spare_core_percent
        ):
            probe = _window(fleet, n, confirm_s, log, settle_s)
            result.trail.append(probe)
        return probe.realtime

    def climb(n: int, failed: int) -> int:
        """From `n`, which held, one camera up at a time below `failed` (known to fail)."""
        best = n
        while n + 1 < failed and n < max_n and len(result.trail) < max_probes:
            n += 1
            if not holds(n):
                break
            best = n
        return best

    start = fallback if fallback is not None and fallback < guess else None
    best = 0
    if holds(guess):
        best = climb(guess, max_n + 1)
    elif start is not None and holds(start):
        best = climb(start, guess)
    else:
        n = guess if start is None else start
        while n > 1 and len(result.trail) < max_probes:
            n -= 1
            if holds(n):
                best = n
                break
    while best >= 1:
        full = [w for w in result.trail if w.n == best and w.seconds >= confirm_s]
        confirm = full[-1] if full else _window(fleet, best, confirm_s, log, settle_s)
        if not full:
            result.trail.append(confirm)
        if confirm.realtime:
            result.confirmed = confirm
            break
        best -= 1
    # Every window at best + 1 failed (one that held would have raised best, or failed
    # its confirmation), so trying it at all found the edge.
    result.edge_found = any(w.n == best + 1 for w in result.trail)
    result.cameras = best
    return result
