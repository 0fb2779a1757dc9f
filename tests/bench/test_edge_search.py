"""The capacity search runs to the edge: N held and N + 1 failed, both over a full window.

The algorithm is under test here, so it measures a fake fleet whose edge is known (a
window is a verdict, returned at once); one test runs it over real windows.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.capacity import CapacityResult, find_capacity, search_edge
from bench.fleet import CameraCounters, CameraWindow, WindowResult
from bench.load import LoadSummary

PROBE_S, FULL_S = 15.0, 45.0


def window(n: int, seconds: float, ok: bool, busiest: float, outside: float) -> WindowResult:
    cameras = [
        CameraWindow(f"c{i}", seconds, int(15 * seconds), int(3.75 * seconds), 0, 30.0)
        for i in range(n)
    ]
    load = LoadSummary(seconds, [busiest, busiest], [0.0, 0.0], outside, outside, int(seconds))
    return WindowResult(
        n,
        seconds,
        cameras,
        2 * busiest,
        busiest,
        failures=[] if ok else [f"N={n} too many"],
        load=load,
    )


class KnownEdge:
    """A fleet that holds real time up to `limit` cameras over a full window.

    `lucky_probe`: a short probe one camera above the limit still holds (a short window
    can miss a slow spell). `spare_core`: a failed window leaves a core with CPU to spare
    (busiest core at 60 %, so a failed probe is measured again), else it saturates one.
    `disturbed_first`: the first window at each N is disturbed from outside.
    """

    def __init__(
        self,
        limit: int,
        lucky_probe: bool = False,
        spare_core: bool = False,
        disturbed_first: bool = False,
    ) -> None:
        self.limit = limit
        self.lucky_probe = lucky_probe
        self.spare_core = spare_core
        self.disturbed_first = disturbed_first
        self.calls: list[tuple[int, float]] = []

    def __call__(self, n: int, seconds: float) -> WindowResult:
        first_at_n = all(called != n for called, _ in self.calls)
        self.calls.append((n, seconds))
        ok = n <= self.limit or (self.lucky_probe and n == self.limit + 1 and seconds < FULL_S)
        busiest = 60.0 if ok or self.spare_core else 100.0
        outside = 0.5 if self.disturbed_first and first_at_n else 0.0
        return window(n, seconds, ok, busiest, outside)


def search(
    fleet: KnownEdge, guess: int, probe_s: float = PROBE_S, **options: Any
) -> CapacityResult:
    return search_edge(fleet, "fake", guess, probe_s, FULL_S, log=lambda _: None, **options)


def assert_edge(found: CapacityResult, limit: int) -> None:
    assert found.cameras == limit and found.edge_found
    if limit:
        assert found.confirmed is not None
        assert (found.confirmed.n, found.confirmed.seconds, found.confirmed.realtime) == (
            limit,
            FULL_S,
            True,
        )
    assert found.failed_above is not None
    assert (found.failed_above.n, found.failed_above.seconds) == (limit + 1, FULL_S)
    assert not found.failed_above.realtime


@pytest.mark.parametrize(
    ("guess", "limit"), [(2, 4), (5, 3), (12, 4), (3, 20), (1, 1), (40, 37), (7, 0)]
)
def test_the_search_runs_to_the_edge_however_far_the_guess(guess: int, limit: int) -> None:
    assert_edge(search(KnownEdge(limit), guess), limit)


def test_a_lucky_probe_above_the_edge_does_not_move_it() -> None:
    """The probe at N + 1 held; its full window did not: the edge stays at N."""
    fleet = KnownEdge(6, lucky_probe=True)
    found = search(fleet, 4)
    assert_edge(found, 6)
    assert (7, PROBE_S) in fleet.calls and (7, FULL_S) in fleet.calls


def test_a_later_repetition_starts_at_the_last_edge_in_full_windows() -> None:
    fleet = KnownEdge(9)
    assert_edge(search(fleet, 9, probe_s=FULL_S), 9)
    assert fleet.calls == [(9, FULL_S), (10, FULL_S)]
    fleet = KnownEdge(7)  # the machine got slower since: walk down
    assert_edge(search(fleet, 9, probe_s=FULL_S), 7)
    assert fleet.calls == [(9, FULL_S), (8, FULL_S), (7, FULL_S)]


def test_a_probe_failing_with_a_core_to_spare_is_measured_again_and_reused() -> None:
    fleet = KnownEdge(5, spare_core=True)
    assert_edge(search(fleet, 5), 5)
    assert fleet.calls.count((6, PROBE_S)) == 1 and fleet.calls.count((6, FULL_S)) == 1


def test_a_probe_failing_on_a_saturated_core_is_not_measured_again_while_probing() -> None:
    fleet = KnownEdge(5)
    assert_edge(search(fleet, 5), 5)
    assert fleet.calls == [(5, PROBE_S), (6, PROBE_S), (5, FULL_S), (6, FULL_S)]


def test_a_missed_target_sends_the_search_to_the_fallback() -> None:
    fleet = KnownEdge(4)
    assert_edge(search(fleet, 12, fallback=3), 4)
    assert [n for n, _ in fleet.calls][:2] == [12, 3]


def test_windows_disturbed_from_outside_are_measured_again_and_kept_aside() -> None:
    found = search(KnownEdge(3, disturbed_first=True), 3, probe_s=FULL_S)
    assert_edge(found, 3)
    assert [w.n for w in found.disturbed] == [3, 4]
    assert not any(w.disturbed for w in found.trail)


def test_a_window_disturbed_every_time_is_kept_marked() -> None:
    found = search(KnownEdge(3, disturbed_first=True), 3, probe_s=FULL_S, max_remeasure=0)
    assert found.disturbed == [] and all(w.disturbed for w in found.trail)


def test_a_window_budget_makes_the_result_a_lower_bound() -> None:
    """Only a smoke run has a budget: out of windows before the edge, `edge_found` is
    false and the capacity the largest N a full window held at."""
    found = search(KnownEdge(10), 2, probe_s=FULL_S, max_windows=2)
    assert found.cameras == 3 and not found.edge_found and found.failed_above is None
    # windows disturbed from outside do not spend it (their retries have their own bound)
    found = search(KnownEdge(10, disturbed_first=True), 2, probe_s=FULL_S, max_windows=2)
    assert found.cameras == 3 and len(found.disturbed) == 2


def test_a_fleet_that_holds_up_to_max_n_has_no_edge() -> None:
    found = search(KnownEdge(100), 8, max_n=10)
    assert found.cameras == 10 and not found.edge_found


class PacedCounterFleet:
    """Counters on a simulated clock (one second per read): real time up to `limit`."""

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
            f"c{i}": CameraCounters(
                self.frames, self.frames // 2, self.frames // 2, 20.0, self.clock
            )
            for i in range(self.size)
        }

    def frame_ages_s(self) -> list[float]:
        return [0.1] * self.size

    def service_pids(self) -> list[int]:
        return []

    def pids(self) -> list[int]:
        return []

    def close(self) -> None:
        self.size = 0


def test_the_search_over_real_windows_finds_the_edge() -> None:
    found = find_capacity(
        PacedCounterFleet(2),
        2,
        probe_s=0.3,
        confirm_s=0.3,
        log=lambda _: None,
        settle_s=0.0,
        max_remeasure=0,  # another user's load must not make this test slower
    )
    assert found.cameras == 2 and found.edge_found
    assert [(w.n, w.realtime) for w in found.trail] == [(2, True), (3, False)]
    assert found.trail[0].load is not None and len(found.trail[0].load.core_mean_percent) >= 1
