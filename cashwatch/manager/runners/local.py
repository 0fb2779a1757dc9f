"""Camera workers as pinned processes on this machine (the default runner)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Mapping

from cashwatch.manager.supervisor import MonitoredWorker
from cashwatch.manager.workers import LaunchSettings, spawn_worker
from cashwatch.shm.frames import FrameSlot
from cashwatch.shm.status import StatusTable
from cashwatch.worker.log_pipe import LogRelay

# At the manager's end, how long the workers' last log lines may take to arrive: the
# workers are stopped by then, so their pipes end as soon as they are read.
RELAY_DRAIN_S = 2.0


class LocalRunner:
    local_processes = True

    def __init__(self) -> None:
        self._node = socket.gethostname()
        self._relays: list[LogRelay] = []  # of workers that may still write lines

    def spawn(self, worker: MonitoredWorker, core: int | None, launch: LaunchSettings) -> None:
        if core is None:
            raise ValueError(f"camera {worker.camera.id}: a local worker needs a core to pin to")
        self._relays = [relay for relay in self._relays if relay.is_alive()]
        self._relays.append(spawn_worker(worker, core, launch))

    def relay(
        self,
        workers: Iterable[MonitoredWorker],
        status: StatusTable,
        slots: Mapping[int, FrameSlot],
    ) -> None:
        """Nothing to carry: local workers write into the shared memory themselves."""

    def node_of(self, worker: MonitoredWorker) -> str:
        return self._node

    def close(self) -> None:
        """Let the stopped workers' last log lines reach the log (stopping the workers
        is the manager's job)."""
        deadline = time.monotonic() + RELAY_DRAIN_S
        for relay in self._relays:
            relay.join(max(0.0, deadline - time.monotonic()))
