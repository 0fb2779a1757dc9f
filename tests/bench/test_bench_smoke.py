"""Smoke tests of the benchmark's own logic: the real-time verdict, the N search, the plot.

The benchmark itself (`make bench`) takes minutes and is not part of the test command.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from bench.capacity import find_capacity
from bench.fleet import CameraCounters, age_growth_s, compare, judge
from bench.plot import draw_capacity_plot
from bench.product import ProductFleet
from bench.run import FULL, QUICK, start_guess
from tests.harness import wait_for


def counters(frames: int, served: int, ts: float) -> CameraCounters:
    return CameraCounters(
        frames_read=frames, served=served, inferences=served, inference_ms=20.0, ts=ts
    )


def test_a_camera_reading_15_fps_and_serving_7_5_is_real_time() -> None:
    window = compare("cam0", counters(0, 0, 0.0), counters(150, 75, 10.0))
    assert window.camera_fps == pytest.approx(15.0)
    assert judge(window, detect_target_fps=7.5) == []


@pytest.mark.parametrize(
    ("frames", "served", "needle"), [(130, 75, "reads 13.00 fps"), (150, 60, "detects 6.00/s")]
)
def test_a_slow_camera_says_why_it_is_not_real_time(frames: int, served: int, needle: str) -> None:
    window = compare("cam0", counters(0, 0, 0.0), counters(frames, served, 10.0))
    problems = judge(window, detect_target_fps=7.5)
    assert len(problems) == 1 and needle in problems[0]


def test_age_growth_compares_the_ends_of_a_window() -> None:
    assert age_growth_s([0.1] * 9) == 0.0
    assert age_growth_s([0.1, 0.1, 0.1, 0.5, 0.5, 0.5, 0.9, 0.9, 0.9]) == pytest.approx(0.8)


class PacedCounterFleet:
    """Counters on a simulated clock (one second per read): real time up to `limit` cameras."""

    kind = "smoke"
    detect_target_fps = 7.5

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.frames = 0
        self.clock = 0.0

    def resize(self, n: int) -> None:
        self.size = n

    def counters(self) -> dict[str, CameraCounters]:
        self.clock += 1.0
        self.frames += 16 if self.size <= self.limit else 10
        return {
            f"c{i}": counters(self.frames, self.frames // 2, self.clock) for i in range(self.size)
        }

    def frame_ages_s(self) -> list[float]:
        return [0.1] * self.size

    def pids(self) -> list[int]:
        return []

    def close(self) -> None:
        self.size = 0


@pytest.mark.parametrize(("guess", "limit"), [(2, 4), (5, 3)])
def test_the_search_finds_the_edge_from_above_and_below(guess: int, limit: int) -> None:
    found = find_capacity(
        PacedCounterFleet(limit),
        guess,
        probe_s=0.3,
        confirm_s=0.5,
        log=lambda _: None,
        settle_s=0.0,
    )
    assert found.cameras == limit
    assert found.confirmed is not None and found.confirmed.n == limit
    assert any(not w.realtime for w in found.trail) or guess > limit


class StartupHiccupFleet(PacedCounterFleet):
    """Like `PacedCounterFleet`, but one camera more than `limit` also holds, except in
    the first window after it started (a worker's start-up slowing its neighbours)."""

    def resize(self, n: int) -> None:
        if n > self.size:  # only a started worker slows its neighbours
            self.calls_since_resize = 0
        super().resize(n)

    def counters(self) -> dict[str, CameraCounters]:
        self.calls_since_resize += 1
        hiccup = self.size == self.limit + 1 and self.calls_since_resize <= 2
        self.clock += 1.0
        holds = self.size <= self.limit or (self.size == self.limit + 1 and not hiccup)
        self.frames += 16 if holds else 10
        return {
            f"c{i}": counters(self.frames, self.frames // 2, self.clock) for i in range(self.size)
        }


def test_a_failed_probe_is_measured_again_over_the_full_window() -> None:
    # every core with CPU to spare, whatever else runs on this machine
    found = find_capacity(
        StartupHiccupFleet(3),
        2,
        probe_s=0.3,
        confirm_s=0.5,
        log=lambda _: None,
        settle_s=0.0,
        spare_core_percent=1e9,
    )
    assert found.cameras == 4 and found.edge_found
    assert [(w.n, w.realtime) for w in found.trail][:4] == [
        (2, True),
        (3, True),
        (4, False),
        (4, True),
    ]
    assert found.confirmed is not None and found.confirmed.n == 4
    assert found.confirmed.seconds == 0.5 and len([w for w in found.trail if w.n == 4]) == 2


def test_a_probe_failing_on_a_saturated_machine_is_not_measured_again() -> None:
    found = find_capacity(
        StartupHiccupFleet(3),
        2,
        probe_s=0.3,
        confirm_s=0.5,
        log=lambda _: None,
        settle_s=0.0,
        spare_core_percent=0.0,
    )
    assert found.cameras == 3 and found.edge_found
    assert [w.n for w in found.trail if not w.realtime] == [4]


def test_a_search_out_of_probes_is_a_lower_bound() -> None:
    found = find_capacity(
        PacedCounterFleet(10),
        2,
        probe_s=0.3,
        confirm_s=0.5,
        log=lambda _: None,
        settle_s=0.0,
        max_probes=3,
    )
    assert found.cameras == 4 and not found.edge_found


@pytest.mark.parametrize(
    ("limit", "trail", "cameras"), [(4, [9, 9, 2, 3, 4, 5, 5, 4], 4), (8, [9, 9, 2, 3, 4, 5, 5], 5)]
)
def test_a_target_that_fails_sends_the_search_to_the_fallback(
    limit: int, trail: list[int], cameras: int
) -> None:
    """A missed target (9) sends the search on from the fallback (2), not one step down."""
    found = find_capacity(
        PacedCounterFleet(limit),
        9,
        probe_s=0.3,
        confirm_s=0.5,
        log=lambda _: None,
        settle_s=0.0,
        spare_core_percent=1e9,
        max_probes=6,
        fallback=2,
    )
    assert [w.n for w in found.trail] == trail
    assert found.cameras == cameras
    assert found.edge_found == (limit == cameras)


def test_without_a_fallback_a_missed_target_can_use_up_every_probe() -> None:
    """What the fallback is for: stepping down from 9 one camera at a time finds nothing."""
    found = find_capacity(
        PacedCounterFleet(4),
        9,
        probe_s=0.3,
        confirm_s=0.5,
        log=lambda _: None,
        settle_s=0.0,
        spare_core_percent=1e9,
        max_probes=6,
    )
    assert found.cameras == 0


def test_the_full_search_starts_cashwatch_at_its_target_multiple_of_the_seed() -> None:
    assert start_guess(FULL, "gating_off", 4) == 8
    assert start_guess(FULL, "gating_on", 4) == 12
    assert start_guess(FULL, "gating_on", 1) == FULL.guesses["gating_on"]  # never below
    assert start_guess(FULL, "gating_off", None) == FULL.guesses["gating_off"]  # no seed
    assert start_guess(FULL, "baseline", None) == FULL.guesses["baseline"]
    assert start_guess(QUICK, "gating_on", 4) == QUICK.guesses["gating_on"]  # a smoke check


def test_the_capacity_plot_is_a_png(tmp_path: Path) -> None:
    trail = [
        {"n": 1, "cpu_percent": 40.0, "realtime": True},
        {"n": 2, "cpu_percent": 190.0, "realtime": False},
    ]
    out = tmp_path / "plot.png"
    draw_capacity_plot({"baseline": {"cameras": 1, "trail": trail}}, 200.0, out)
    image = cv2.imread(str(out))
    assert image is not None and image.shape[:2] == (540, 900)


def test_a_camera_added_again_in_a_freed_slot_shows_its_new_frames(
    tmp_path: Path, make_video
) -> None:
    """A search that steps down (a slot's segment unlinked) and up again (a new segment of
    the same name) must read the new camera's frames, not the old segment's last one."""
    video = make_video("walk.avi", seconds=4)
    fleet = ProductFleet(video, gating=False, work_dir=tmp_path / "fleet", detection=False)

    def both_fresh() -> bool:
        ages = fleet.frame_ages_s()
        return len(ages) == 2 and max(ages) < 1.0

    try:
        fleet.resize(2)
        wait_for(both_fresh, 30, "both cameras' live frames fresh")
        fleet.resize(1)
        fleet.resize(2)
        wait_for(both_fresh, 30, "the camera added again in slot 1 to show fresh frames")
    finally:
        fleet.close()
