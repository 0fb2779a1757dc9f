"""What the manager should do next, decided from a snapshot: no processes, no clocks.

The manager (cashwatch.manager.service) gathers a `Wanted` (the config) and a `Running`
(its workers, their health, its slots) and carries out the actions these functions
return, in order. Every decision lives here, so reconcile, restart back-off and the
camera limit are tested in-process in milliseconds (tests/manager/test_plan.py); the
subprocess tests cover carrying them out.

Three moments of the manager's loop ask for a plan:
- `plan_config`: a config was loaded: which cameras to add, change, stop or remove.
- `plan_placement`: cameras that found no slot, retried once a slot has been freed.
- `plan_supervision`: every pass: which workers to start, which died or hung.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import Enum

from cashwatch.config import CameraConfig, ManagerConfig
from cashwatch.manager.supervisor import RestartSchedule, heartbeat_stale, schedule_restart

# inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """Now, on both clocks: back-off runs on the monotonic one, heartbeats on the wall's."""

    mono: float
    wall: float


class Process(Enum):
    NONE = "none"  # never started, stopped, or waiting out its back-off
    ALIVE = "alive"
    EXITED = "exited"  # ended on its own: a crash, or an exit nobody asked for


@dataclass(frozen=True)
class WorkerState:
    """One monitored worker as the manager sees it now (a MonitoredWorker's snapshot)."""

    camera: CameraConfig  # the settings it runs: the last good ones
    process: Process = Process.NONE
    heartbeat_ts: float = 0.0  # its status record's, read only while it is alive
    started_at: float = 0.0  # wall clock
    started_mono: float = 0.0
    consecutive_failures: int = 0
    next_start_mono: float = 0.0  # not started again before this
    restart_history: tuple[float, ...] = ()  # monotonic start times of its restarts


@dataclass(frozen=True)
class Wanted:
    """The config: the cameras it asks for, its rejected entries, the restart policy."""

    cameras: Mapping[str, CameraConfig]  # by id, in the file's order
    errors: Mapping[str, str]  # rejected entry's label -> why
    policy: ManagerConfig


@dataclass(frozen=True)
class Running:
    """What the manager holds: its workers, the rejected entries shown in a slot, the
    cameras waiting for a slot, and what it may start."""

    workers: Mapping[str, WorkerState]  # by camera id, in the manager's order
    capacity: int  # status slots, fixed when the manager started
    broken: tuple[str, ...] = ()  # rejected entries holding a slot to show their error
    unplaced: tuple[str, ...] = ()  # cameras (or rejected entries) that found no slot
    slot_freed: bool = False  # a slot was released since the last placement
    model_ready: bool = True  # the pose model is exported (or failed: run without it)

    @property
    def slots_in_use(self) -> int:
        return len(self.workers) + len(self.broken)


# actions -----------------------------------------------------------------------------


class Change(Enum):
    """How a camera's entry compares with the settings its worker runs."""

    ADDED = "added"  # no worker yet: take a slot
    UNCHANGED = "unchanged"  # equal, or only switched off: no restart
    SWITCHED_ON = "switched on"  # only switched on: start it now, back-off forgotten
    CHANGED = "changed"  # anything else: stop it, run the new settings


@dataclass(frozen=True)
class Reconcile:
    """Make the camera's worker run `camera`; `stop` a disabled camera's running worker."""

    camera: CameraConfig
    change: Change
    stop: bool = False


@dataclass(frozen=True)
class Remove:
    """The camera left the config: stop its worker and free its slot."""

    camera_id: str


@dataclass(frozen=True)
class KeepLastGood:
    """The camera's entry was rejected: its worker keeps running the last good one."""

    camera_id: str
    message: str


@dataclass(frozen=True)
class ShowBroken:
    """A rejected entry with no worker: its error shown in a slot of its own."""

    label: str
    message: str


@dataclass(frozen=True)
class ReleaseBroken:
    """A rejected entry fixed or gone: the slot that showed its error is free."""

    label: str


@dataclass(frozen=True)
class Unplaced:
    """Every slot is taken: the camera (or rejected entry) waits for one."""

    camera_id: str


@dataclass(frozen=True)
class Start:
    camera_id: str


@dataclass(frozen=True)
class Failed:
    """The worker exited on its own: book it and back off."""

    camera_id: str
    schedule: RestartSchedule


@dataclass(frozen=True)
class KillHung:
    """The worker is alive but its heartbeat stopped: kill it, book it and back off."""

    camera_id: str
    schedule: RestartSchedule


Action = (
    Reconcile
    | Remove
    | KeepLastGood
    | ShowBroken
    | ReleaseBroken
    | Unplaced
    | Start
    | Failed
    | KillHung
)


# decisions ---------------------------------------------------------------------------


def plan_config(wanted: Wanted, running: Running) -> list[Action]:
    """Make the workers match a config just loaded, camera by camera.

    Slots are freed before any is taken: a rejected entry that is gone, or a removed
    camera, must not hold the slot a new camera of the same edit needs. Then the
    config's cameras in its order, then its rejected entries; whatever finds no slot
    left is `Unplaced`. Rejected entries labelled by position ("#3", no id) get none.
    A camera of the config is never a rejected entry too: ids are unique in a file that
    loads, so a broken entry's slot is released before the fixed camera takes one.
    """
    errors = wanted.errors
    actions: list[Action] = [
        ReleaseBroken(label) for label in running.broken if label not in errors
    ]
    broken = [label for label in running.broken if label in errors]
    for camera_id in running.workers:
        if camera_id in errors:
            actions.append(KeepLastGood(camera_id, errors[camera_id]))
        elif camera_id not in wanted.cameras:
            actions.append(Remove(camera_id))
    kept = [cid for cid in running.workers if cid in errors or cid in wanted.cameras]
    in_use = len(kept) + len(broken)
    for camera in wanted.cameras.values():
        action = _reconcile_or_unplace(camera, running, in_use)
        in_use += _new_slots(action, broken)
        actions.append(action)
    for label, message in errors.items():
        if label in running.workers or label.startswith("#"):
            continue
        action = _show_or_unplace(label, message, broken, in_use, running.capacity)
        in_use += _new_slots(action, broken)
        actions.append(action)
    return actions


def plan_placement(wanted: Wanted, running: Running) -> list[Action] | None:
    """Try again the cameras that found no slot, once one has been freed.

    None when there is nothing to retry: no slot freed since the last placement (trying
    every pass would log "all slots in use" 5 times a second for a site simply over its
    max_cameras). Otherwise the waiting cameras' actions, in the order they waited; a
    camera no longer in the config is dropped.
    """
    if not (running.unplaced and running.slot_freed):
        return None
    actions: list[Action] = []
    in_use = running.slots_in_use
    for camera_id in running.unplaced:
        if camera_id in wanted.cameras:
            action = _reconcile_or_unplace(wanted.cameras[camera_id], running, in_use)
        elif camera_id in wanted.errors and camera_id not in running.workers:
            action = _show_or_unplace(
                camera_id, wanted.errors[camera_id], running.broken, in_use, running.capacity
            )
        else:
            continue
        in_use += _new_slots(action, running.broken)
        actions.append(action)
    return actions


def plan_supervision(wanted: Wanted, running: Running, now: Clock) -> list[Action]:
    """Start what may start, book what died, kill what hung; enabled cameras only.

    A worker without a process starts once its back-off is over, and a camera that
    asks a model (the pose model, a fire model) once the model is ready. A dead or hung
    one is given its next back-off (supervisor.schedule_restart).
    """
    actions: list[Action] = []
    for camera_id, worker in running.workers.items():
        if not worker.camera.enabled:
            continue
        if worker.process is Process.NONE:
            may_start = running.model_ready or not worker.camera.detection.needs_inference
            if now.mono >= worker.next_start_mono and may_start:
                actions.append(Start(camera_id))
        elif worker.process is Process.EXITED:
            actions.append(Failed(camera_id, _backoff(worker, wanted.policy, now)))
        elif heartbeat_stale(worker.heartbeat_ts, worker, wanted.policy, now.wall):
            actions.append(KillHung(camera_id, _backoff(worker, wanted.policy, now)))
    return actions


def classify_change(camera: CameraConfig, running: CameraConfig) -> Change:
    """How `camera` differs from the settings a worker runs (`running`)."""
    if camera.model_copy(update={"enabled": running.enabled}) != running:
        return Change.CHANGED
    return Change.SWITCHED_ON if camera.enabled and not running.enabled else Change.UNCHANGED


def _reconcile_or_unplace(camera: CameraConfig, running: Running, in_use: int) -> Action:
    worker = running.workers.get(camera.id)
    if worker is None:
        return Reconcile(camera, Change.ADDED) if in_use < running.capacity else Unplaced(camera.id)
    change = classify_change(camera, worker.camera)
    # a changed camera's worker is stopped for the change already
    stop = (
        not camera.enabled and worker.process is not Process.NONE and change is not Change.CHANGED
    )
    return Reconcile(camera, change, stop)


def _show_or_unplace(
    label: str, message: str, broken: Collection[str], in_use: int, capacity: int
) -> Action:
    """A rejected entry keeps the slot it shows its error in, or needs a free one."""
    fits = label in broken or in_use < capacity
    return ShowBroken(label, message) if fits else Unplaced(label)


def _new_slots(action: Action, broken: Collection[str]) -> int:
    """How many free slots carrying out `action` takes (0 or 1)."""
    if isinstance(action, Reconcile):
        return int(action.change is Change.ADDED)
    return int(isinstance(action, ShowBroken) and action.label not in broken)


def _backoff(worker: WorkerState, policy: ManagerConfig, now: Clock) -> RestartSchedule:
    return schedule_restart(
        worker.started_mono, worker.consecutive_failures, worker.restart_history, policy, now.mono
    )
