"""Supervision as data: one record per camera worker with its restart history.

The decisions (when to restart, how long to wait, when a camera is crash-looping)
are small functions over these records, testable without processes.
"""

from __future__ import annotations

import signal
import time
from collections import deque
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


@dataclass
class MonitoredWorker:
    camera: CameraConfig
    slot: int
    core: int | None = None
    process: WorkerProcess | None = None
    stop_event: StopSignal | None = None
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


def restart_delay(worker: MonitoredWorker, policy: ManagerConfig,
                  now_mono: float) -> tuple[float, str]:
    """Back-off before the next start, and a note when restarts are being throttled.

    Exponential (1, 2, 4 … backoff_max_s) on consecutive failures; more than
    `max_restarts_per_minute` restarts in the last minute waits the full maximum.
    """
    recent = sum(1 for t in worker.restart_history if now_mono - t < 60.0)
    if recent >= policy.max_restarts_per_minute:
        return policy.backoff_max_s, (f"restarted {recent} times in the last minute; "
                                      f"waiting {policy.backoff_max_s:g} s before the next try")
    exponent = max(0, worker.consecutive_failures - 1)
    return min(policy.backoff_initial_s * 2 ** exponent, policy.backoff_max_s), ""


def record_failure(worker: MonitoredWorker, reason: str, policy: ManagerConfig,
                   now_mono: float) -> str:
    """Book a crash or hang; schedules the restart and returns the status message."""
    ran_for = now_mono - worker.started_mono
    worker.consecutive_failures = 1 if ran_for >= HEALTHY_RUN_S else worker.consecutive_failures + 1
    worker.last_exit_reason = reason
    delay, throttled = restart_delay(worker, policy, now_mono)
    worker.next_start_mono = now_mono + delay
    message = f"worker {reason}; restart in {delay:g} s"  # :g, so 0.5 s does not read "0 s"
    return f"{message} ({throttled})" if throttled else message


def heartbeat_stale(heartbeat_ts: float, worker: MonitoredWorker, policy: ManagerConfig,
                    now: float | None = None) -> bool:
    """A live process whose heartbeat stopped (hung, or SIGSTOPped)."""
    now = time.time() if now is None else now
    last_sign = max(heartbeat_ts, worker.started_at)
    return now - last_sign > policy.heartbeat_timeout_s
