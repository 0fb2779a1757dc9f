"""Placement and restart policy as plain functions."""

from __future__ import annotations

import pytest

from cashwatch.config import CameraConfig, ManagerConfig
from cashwatch.manager.placement import choose_core
from cashwatch.manager.supervisor import (
    HEALTHY_RUN_S,
    MonitoredWorker,
    book_failure,
    describe_exit,
    heartbeat_stale,
    schedule_restart,
)


def test_core_with_least_measured_load_wins() -> None:
    assigned = {"a": 0, "b": 0, "c": 1}
    assert choose_core([0, 1], assigned, {"a": 10, "b": 10, "c": 60}, slot=3) == 0
    assert choose_core([0, 1], assigned, {"a": 30, "b": 30, "c": 20}, slot=3) == 1
    # what else runs on a core counts too (an inference service, other programs)
    loads = {"a": 10, "b": 10, "c": 20}
    assert choose_core([0, 1], assigned, loads, slot=3) == 1
    assert choose_core([0, 1], assigned, loads, slot=3, other_load={0: 40.0, 1: 0.0}) == 1
    assert choose_core([0, 1], assigned, loads, slot=3, other_load={0: 0.0, 1: 30.0}) == 0


def test_unmeasured_workers_spread_out() -> None:
    assert choose_core([0, 1], {}, {}, slot=0) == 0
    assert choose_core([0, 1], {"a": 0}, {}, slot=1) == 1
    assert choose_core([0, 1], {"a": 0, "b": 1}, {}, slot=2) == 0


def test_no_cores_is_an_error() -> None:
    with pytest.raises(ValueError, match="no usable CPU cores"):
        choose_core([], {}, {}, slot=0)


def record_failure(
    worker: MonitoredWorker, reason: str, policy: ManagerConfig, now_mono: float
) -> str:
    """A failure booked at `now_mono` as the plan decides it and the executor books it."""
    schedule = schedule_restart(
        worker.started_mono, worker.consecutive_failures, worker.restart_history, policy, now_mono
    )
    return book_failure(worker, reason, schedule)


def _worker() -> MonitoredWorker:
    return MonitoredWorker(camera=CameraConfig(id="c", source="demo:walk"), slot=0)


def test_backoff_doubles_and_caps() -> None:
    policy = ManagerConfig(backoff_initial_s=1, backoff_max_s=8, max_restarts_per_minute=100)
    worker = _worker()
    delays = []
    for attempt in range(6):
        now = 1000.0 + attempt
        worker.started_mono = now - 1  # crashed one second after start
        record_failure(worker, "killed by SIGKILL", policy, now)
        delays.append(worker.next_start_mono - now)
    assert delays == [1, 2, 4, 8, 8, 8]


def test_healthy_run_resets_backoff() -> None:
    policy = ManagerConfig(backoff_initial_s=1, backoff_max_s=60)
    worker = _worker()
    worker.consecutive_failures = 5
    worker.started_mono = 0.0
    record_failure(worker, "exited with code 1", policy, HEALTHY_RUN_S + 1)
    assert worker.next_start_mono - (HEALTHY_RUN_S + 1) == 1


def test_restart_storm_is_throttled_with_reason() -> None:
    policy = ManagerConfig(max_restarts_per_minute=3, backoff_max_s=60)
    worker = _worker()
    worker.restart_history.extend([100.0, 110.0, 120.0])
    worker.started_mono = 125.0
    message = record_failure(worker, "exited with code 1", policy, 126.0)
    assert worker.next_start_mono == 186.0
    assert "restarted 3 times in the last minute" in message


def test_exit_descriptions() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(0) == "exited normally"


def test_heartbeat_staleness() -> None:
    policy = ManagerConfig(heartbeat_timeout_s=20)
    worker = _worker()
    worker.started_at = 1000.0
    assert not heartbeat_stale(0.0, worker, policy, now=1010.0), "grace period after start"
    assert heartbeat_stale(1001.0, worker, policy, now=1030.0)
    assert not heartbeat_stale(1025.0, worker, policy, now=1030.0)
