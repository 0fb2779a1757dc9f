"""The manager's decisions as plain functions: snapshots in, actions out, no processes.

The subprocess tests (test_manager.py, tests/faults) check that the manager carries
these actions out; here each decision is checked on its own, in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest

from cashwatch.config import CameraConfig, ManagerConfig
from cashwatch.manager.plan import (
    Action,
    Change,
    Clock,
    Failed,
    KeepLastGood,
    KillHung,
    Process,
    Reconcile,
    ReleaseBroken,
    Remove,
    Running,
    ShowBroken,
    Start,
    Unplaced,
    Wanted,
    WorkerState,
    classify_change,
    plan_config,
    plan_placement,
    plan_supervision,
)
from cashwatch.manager.supervisor import HEALTHY_RUN_S, RestartSchedule

POLICY = ManagerConfig(
    backoff_initial_s=1, backoff_max_s=8, max_restarts_per_minute=100, heartbeat_timeout_s=20
)
NO_POSE = {"cash": {"enabled": False}, "violence": {"enabled": False}}


def camera(camera_id: str, **settings: object) -> CameraConfig:
    return CameraConfig.model_validate({"id": camera_id, "source": "demo:walk", **settings})


def wanted(
    *cameras: CameraConfig, errors: Mapping[str, str] | None = None, policy: ManagerConfig = POLICY
) -> Wanted:
    return Wanted(cameras={c.id: c for c in cameras}, errors=dict(errors or {}), policy=policy)


def running(
    *workers: WorkerState,
    capacity: int = 8,
    broken: tuple[str, ...] = (),
    unplaced: tuple[str, ...] = (),
    slot_freed: bool = False,
    model_ready: bool = True,
) -> Running:
    return Running(
        workers={w.camera.id: w for w in workers},
        capacity=capacity,
        broken=broken,
        unplaced=unplaced,
        slot_freed=slot_freed,
        model_ready=model_ready,
    )


def alive(
    cam: CameraConfig, started_at: float = 0.0, started_mono: float = 0.0, heartbeat_ts: float = 0.0
) -> WorkerState:
    return WorkerState(
        camera=cam,
        process=Process.ALIVE,
        started_at=started_at,
        started_mono=started_mono,
        heartbeat_ts=heartbeat_ts,
    )


def idle(cam: CameraConfig) -> WorkerState:
    return WorkerState(camera=cam, process=Process.NONE)


# reconcile ---------------------------------------------------------------------------

A, B, C = camera("a"), camera("b"), camera("c")


def test_a_first_config_adds_its_cameras_in_order() -> None:
    assert plan_config(wanted(A, B), running()) == [
        Reconcile(A, Change.ADDED),
        Reconcile(B, Change.ADDED),
    ]


def test_an_edit_removes_changes_keeps_and_adds() -> None:
    a_moved = camera("a", site="bar")
    actions = plan_config(wanted(a_moved, B, C), running(alive(A), alive(B), alive(camera("d"))))
    assert actions == [
        Remove("d"),
        Reconcile(a_moved, Change.CHANGED),
        Reconcile(B, Change.UNCHANGED),
        Reconcile(C, Change.ADDED),
    ]


def test_switching_off_stops_a_running_worker_without_a_restart() -> None:
    off = camera("a", enabled=False)
    assert plan_config(wanted(off), running(alive(A))) == [
        Reconcile(off, Change.UNCHANGED, stop=True)
    ]
    # already stopped (or waiting out a back-off): nothing to stop
    assert plan_config(wanted(off), running(idle(A))) == [Reconcile(off, Change.UNCHANGED)]


def test_switching_on_starts_at_once_and_a_change_while_off_is_a_change() -> None:
    off = camera("a", enabled=False)
    assert plan_config(wanted(A), running(idle(off))) == [Reconcile(A, Change.SWITCHED_ON)]
    # changed and switched off at once: the change stops it, nothing left to stop
    changed_off = camera("a", enabled=False, site="bar")
    assert plan_config(wanted(changed_off), running(alive(A))) == [
        Reconcile(changed_off, Change.CHANGED)
    ]


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (camera("a"), Change.UNCHANGED),
        (camera("a", enabled=False), Change.UNCHANGED),
        (camera("a", cooldown_s=30.0), Change.CHANGED),
        (camera("a", source="demo:scuffle"), Change.CHANGED),
    ],
)
def test_what_counts_as_a_change(new: CameraConfig, expected: Change) -> None:
    assert classify_change(new, A) is expected


def test_a_rejected_entry_keeps_its_worker_on_the_last_good_settings() -> None:
    errors = {"a": "camera 'a': key 'detection.fps': must be > 0"}
    actions = plan_config(wanted(B, errors=errors), running(alive(A), alive(B)))
    assert actions == [KeepLastGood("a", errors["a"]), Reconcile(B, Change.UNCHANGED)]


def test_a_rejected_new_entry_shows_its_error_in_a_slot_until_fixed() -> None:
    errors = {"b": "camera 'b': unknown key 'fps'", "#3": "camera '#3': no id"}
    assert plan_config(wanted(A, errors=errors), running(alive(A))) == [
        Reconcile(A, Change.UNCHANGED),
        ShowBroken("b", errors["b"]),
    ]  # "#3" has no id to show
    # fixed: the slot that showed the error is released before the camera takes one
    assert plan_config(wanted(A, B), running(alive(A), broken=("b",))) == [
        ReleaseBroken("b"),
        Reconcile(A, Change.UNCHANGED),
        Reconcile(B, Change.ADDED),
    ]


# the camera limit --------------------------------------------------------------------


def test_cameras_past_the_slots_are_unplaced_and_the_running_ones_untouched() -> None:
    actions = plan_config(
        wanted(A, B, C, errors={"x": "bad"}), running(alive(A), alive(B), capacity=2)
    )
    assert actions == [
        Reconcile(A, Change.UNCHANGED),
        Reconcile(B, Change.UNCHANGED),
        Unplaced("c"),
        Unplaced("x"),
    ]


def test_a_rejected_entry_keeps_the_slot_it_shows_its_error_in() -> None:
    still_bad = {"x": "camera 'x': unknown key 'fps'"}
    actions = plan_config(
        wanted(A, B, errors=still_bad), running(alive(A), capacity=2, broken=("x",))
    )
    assert actions == [
        Reconcile(A, Change.UNCHANGED),
        Unplaced("b"),
        ShowBroken("x", still_bad["x"]),
    ]


def test_slots_freed_by_an_edit_go_to_the_new_cameras_of_that_edit() -> None:
    # b removed and a broken entry fixed away: both their slots are free for c and d
    d = camera("d")
    actions = plan_config(wanted(A, C, d), running(alive(A), alive(B), capacity=3, broken=("x",)))
    assert actions == [
        ReleaseBroken("x"),
        Remove("b"),
        Reconcile(A, Change.UNCHANGED),
        Reconcile(C, Change.ADDED),
        Reconcile(d, Change.ADDED),
    ]


def test_an_unplaced_camera_waits_for_a_freed_slot_then_takes_it() -> None:
    config = wanted(A, B, C, errors={"x": "bad"})
    full = running(alive(A), alive(B), capacity=2, unplaced=("c", "x"))
    assert plan_placement(config, full) is None, "nothing freed: nothing tried, nothing logged"
    assert plan_placement(config, replace(full, slot_freed=True)) == [Unplaced("c"), Unplaced("x")]
    one_free = running(alive(B), capacity=2, unplaced=("c", "x"), slot_freed=True)
    assert plan_placement(config, one_free) == [Reconcile(C, Change.ADDED), Unplaced("x")]


def test_a_waiting_camera_that_left_the_config_is_dropped() -> None:
    waiting = running(capacity=1, unplaced=("gone",), slot_freed=True)
    assert plan_placement(wanted(A), waiting) == []


# supervision -------------------------------------------------------------------------


def at(mono: float, wall: float = 10_000.0) -> Clock:
    return Clock(mono=mono, wall=wall)


def test_a_new_worker_starts_at_once_and_a_disabled_one_never() -> None:
    off = camera("b", enabled=False)
    assert plan_supervision(wanted(A, off), running(idle(A), idle(off)), at(5.0)) == [Start("a")]


def test_a_pose_camera_waits_for_the_model_and_the_others_do_not() -> None:
    plain = camera("p", detection=NO_POSE)
    state = running(idle(A), idle(plain), model_ready=False)
    assert plan_supervision(wanted(A, plain), state, at(5.0)) == [Start("p")]
    assert plan_supervision(wanted(A, plain), replace(state, model_ready=True), at(5.0)) == [
        Start("a"),
        Start("p"),
    ]


def test_a_dead_worker_backs_off_longer_each_time_and_starts_only_after_it() -> None:
    config = wanted(A)
    worker = idle(A)
    delays = []
    for attempt in range(5):
        started = 100.0 * (attempt + 1)
        worker = replace(
            worker,
            process=Process.EXITED,
            started_mono=started,
            restart_history=(*worker.restart_history, started),
        )
        [failed] = plan_supervision(config, running(worker), at(started + 0.5))
        assert isinstance(failed, Failed) and failed.camera_id == "a"
        schedule = failed.schedule
        delays.append(schedule.delay_s)
        worker = replace(
            worker,
            process=Process.NONE,
            consecutive_failures=schedule.consecutive_failures,
            next_start_mono=schedule.next_start_mono,
        )
        early = at(schedule.next_start_mono - 0.01)
        assert plan_supervision(config, running(worker), early) == [], "started in its back-off"
        assert plan_supervision(config, running(worker), at(schedule.next_start_mono)) == [
            Start("a")
        ]
    assert delays == [1, 2, 4, 8, 8]


def test_a_healthy_run_resets_the_back_off() -> None:
    worker = replace(alive(A), process=Process.EXITED, started_mono=1000.0, consecutive_failures=4)
    now = 1000.0 + HEALTHY_RUN_S
    assert plan_supervision(wanted(A), running(worker), at(now)) == [
        Failed("a", RestartSchedule(consecutive_failures=1, delay_s=1, next_start_mono=now + 1))
    ]
    crashed_early = replace(worker, started_mono=now - 1)
    [failed] = plan_supervision(wanted(A), running(crashed_early), at(now))
    assert isinstance(failed, Failed) and failed.schedule.consecutive_failures == 5


def test_a_restart_storm_waits_the_longest_delay_and_says_why() -> None:
    policy = ManagerConfig(max_restarts_per_minute=3, backoff_max_s=60)
    worker = replace(
        alive(A), process=Process.EXITED, started_mono=125.0, restart_history=(100.0, 110.0, 120.0)
    )
    [failed] = plan_supervision(wanted(A, policy=policy), running(worker), at(126.0))
    assert isinstance(failed, Failed)
    assert failed.schedule.next_start_mono == 186.0
    assert "restarted 3 times in the last minute" in failed.schedule.throttled


def test_a_worker_whose_heartbeat_stopped_is_killed_then_restarted_after_back_off() -> None:
    config = wanted(A)
    wall = 50_000.0
    beating = alive(A, started_at=wall - 100, started_mono=400.0, heartbeat_ts=wall - 5)
    assert plan_supervision(config, running(beating), at(500.0, wall)) == []
    hung = replace(beating, heartbeat_ts=wall - 21)
    actions: list[Action] = plan_supervision(config, running(hung), at(500.0, wall))
    assert actions == [
        KillHung("a", RestartSchedule(consecutive_failures=1, delay_s=1, next_start_mono=501.0))
    ]
    killed = replace(hung, process=Process.NONE, consecutive_failures=1, next_start_mono=501.0)
    assert plan_supervision(config, running(killed), at(500.5, wall + 0.5)) == []
    assert plan_supervision(config, running(killed), at(501.0, wall + 1)) == [Start("a")]


def test_a_just_started_worker_has_its_grace_period() -> None:
    wall = 50_000.0
    starting = alive(A, started_at=wall - 10, heartbeat_ts=0.0)  # no heartbeat yet
    assert plan_supervision(wanted(A), running(starting), at(500.0, wall)) == []
    assert plan_supervision(wanted(A), running(starting), at(500.0, wall + 11)) != []


def test_supervision_follows_the_managers_order_and_skips_disabled_cameras() -> None:
    dead = replace(alive(B), process=Process.EXITED, started_mono=0.0)
    off = camera("c", enabled=False)
    actions = plan_supervision(
        wanted(A, B, off), running(idle(A), dead, replace(dead, camera=off)), at(100.0)
    )
    assert [type(a) for a in actions] == [Start, Failed]
    assert [a.camera_id for a in actions if isinstance(a, Start | Failed)] == ["a", "b"]
