"""Supervision as data: one record per camera worker with its restart history.

The decisions (when to restart, how long to wait, when a camera is crash-looping)
are small functions over these records, testable without processes.
"""

from __future__ import annotations

import signal
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from cashwatch.config import CameraConfig, ManagerConfig

HEALTHY_RUN_S = 60.0  # a worker that ran this long resets its back-off


class WorkerProcess(Protocol):
    """What supervision uses of a worker: a local `multiprocessing.Process`, or a Ray
    actor presented the same way (cashwatch.manager.runners.ray_runner.ActorProcess)."""

    @property
    def pid(self) -> int | None: ...

    @property
    def exitcode(self) -> int | None: ...

    def is_alive(self) -> bool: ...

    def join(self, timeout: float | None = None) -> None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...

    def close(self) -> None: ...


class StopSignal(Protocol):
    def set(self) -> None: ...


class ExitNote(Protocol):
    """The manager's end of the pipe a local worker leaves its exit reason in."""

    def poll(self, timeout: float | None = 0.0) -> bool: ...

    def recv(self) -> object: ...

    def close(self) -> None: ...


@dataclass
class MonitoredWorker:
    camera: CameraConfig
    slot: int
    core: int | None = None
    process: WorkerProcess | None = None
    stop_event: StopSignal | None = None
    exit_note: ExitNote | None = None  # local workers only; Ray actors report exit_reason
    run_id: str = ""
    run_open: bool = False  # its stop not yet recorded: one stop per run in worker_runs
    started_at: float = 0.0  # wall clock, for status and worker_runs
    started_mono: float = 0.0
    restarts: int = 0
    consecutive_failures: int = 0
    restart_history: deque[float] = field(default_factory=lambda: deque(maxlen=100))
    next_start_mono: float = 0.0  # when a crashed worker may start again
    last_exit_reason: str = ""
    config_error: str = ""  # the camera's entry is broken; this is its last good config

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return "exited normally" if exitcode == 0 else f"exited with code {exitcode}"


def describe_process_exit(process: WorkerProcess) -> str:
    """Why a worker ended; a Ray actor says it itself (e.g. its node was lost)."""
    return getattr(process, "exit_reason", "") or describe_exit(process.exitcode)


# A worker that exits non-zero without a note never ran its own code to the point of
# saying why: the interpreter could not start, or it died while starting up.
NO_NOTE = "without giving a reason (it ended before the worker's code could report one)"


def take_exit_note(worker: MonitoredWorker) -> str:
    """The reason the worker left in its pipe ("" if none), and the pipe closed."""
    note, worker.exit_note = worker.exit_note, None
    return read_exit_note(note)


def read_exit_note(note: ExitNote | None) -> str:
    """What an exited child left in its exit-note pipe ("" if nothing); closes the pipe."""
    if note is None:
        return ""
    try:
        return str(note.recv()) if note.poll(0) else ""
    except (EOFError, OSError):  # exited without writing: the pipe just closed
        return ""
    finally:
        note.close()


def worker_exit_reason(worker: MonitoredWorker) -> str:
    """`exited with code 1: FileNotFoundError: …`: how the process ended and, for a
    non-zero exit, why, as the worker reported it."""
    assert worker.process is not None
    how = describe_process_exit(worker.process)
    local = worker.exit_note is not None  # a Ray actor's exit_reason says it itself
    note = take_exit_note(worker)
    if note:
        return f"{how}: {note}"
    code = worker.process.exitcode
    return f"{how} {NO_NOTE}" if local and code is not None and code > 0 else how


@dataclass(frozen=True)
class RestartSchedule:
    """What a failure does to a worker's back-off: when it may start again, and why
    restarts are being throttled ("" when they are not)."""

    consecutive_failures: int
    delay_s: float
    next_start_mono: float
    throttled: str = ""


def restart_delay(
    consecutive_failures: int,
    restart_history: Iterable[float],
    policy: ManagerConfig,
    now_mono: float,
) -> tuple[float, str]:
    """Back-off before the next start, and a note when restarts are being throttled.

    Exponential (1, 2, 4 … backoff_max_s) on consecutive failures; more than
    `max_restarts_per_minute` restarts in the last minute waits the full maximum.
    """
    recent = sum(1 for t in restart_history if now_mono - t < 60.0)
    if recent >= policy.max_restarts_per_minute:
        return policy.backoff_max_s, (
            f"restarted {recent} times in the last minute; "
            f"waiting {policy.backoff_max_s:g} s before the next try"
        )
    exponent = max(0, consecutive_failures - 1)
    return min(policy.backoff_initial_s * 2**exponent, policy.backoff_max_s), ""


def schedule_restart(
    started_mono: float,
    consecutive_failures: int,
    restart_history: Iterable[float],
    policy: ManagerConfig,
    now_mono: float,
) -> RestartSchedule:
    """The back-off after a crash or hang at `now_mono` of a run started at `started_mono`.

    A run of HEALTHY_RUN_S or more counts as a recovery: the back-off starts over.
    """
    ran_for = now_mono - started_mono
    failures = 1 if ran_for >= HEALTHY_RUN_S else consecutive_failures + 1
    delay, throttled = restart_delay(failures, restart_history, policy, now_mono)
    return RestartSchedule(
        consecutive_failures=failures,
        delay_s=delay,
        next_start_mono=now_mono + delay,
        throttled=throttled,
    )


def book_failure(worker: MonitoredWorker, reason: str, schedule: RestartSchedule) -> str:
    """Put a decided back-off on the worker's record; returns the status message."""
    worker.consecutive_failures = schedule.consecutive_failures
    worker.last_exit_reason = reason
    worker.next_start_mono = schedule.next_start_mono
    # :g, so 0.5 s does not read "0 s"
    message = f"worker {reason}; restart in {schedule.delay_s:g} s"
    return f"{message} ({schedule.throttled})" if schedule.throttled else message


class Started(Protocol):
    """A worker's run as staleness sees it: a MonitoredWorker or a snapshot of one."""

    @property
    def started_at(self) -> float: ...


def heartbeat_stale(
    heartbeat_ts: float, worker: Started, policy: ManagerConfig, now: float | None = None
) -> bool:
    """A live process whose heartbeat stopped (hung, or SIGSTOPped)."""
    now = time.time() if now is None else now
    last_sign = max(heartbeat_ts, worker.started_at)
    return now - last_sign > policy.heartbeat_timeout_s
