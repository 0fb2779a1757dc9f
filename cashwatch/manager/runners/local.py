"""Camera workers as pinned processes on this machine (the default runner)."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping

from cashwatch.manager.supervisor import MonitoredWorker
from cashwatch.manager.workers import LaunchSettings, spawn_worker
from cashwatch.shm.frames import FrameSlot
from cashwatch.shm.status import StatusTable


class LocalRunner:
    local_processes = True

    def __init__(self) -> None:
        self._node = socket.gethostname()

    def spawn(self, worker: MonitoredWorker, core: int | None, launch: LaunchSettings) -> None:
        if core is None:
            raise ValueError(f"camera {worker.camera.id}: a local worker needs a core to pin to")
        spawn_worker(worker, core, launch)

    def relay(self, workers: Iterable[MonitoredWorker], status: StatusTable,
              slots: Mapping[int, FrameSlot]) -> None:
        """Nothing to carry: local workers write into the shared memory themselves."""

    def node_of(self, worker: MonitoredWorker) -> str:
        return self._node

    def close(self) -> None:
        """Nothing to release: stopping the workers is the manager's job."""
