"""An InferenceServer on a real Unix socket, served by a thread of the test process."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

from cashwatch.detect.model import BatchPoseModel
from cashwatch.inference.protocol import socket_path
from cashwatch.inference.server import InferenceServer
from cashwatch.shm.services import ServiceReport
from tests.harness import wait_for


class ServiceThread:
    """Service `index` of `data_dir` serving `pose` (and what `extra` gives the server:
    a video model, fire models) until `stop`."""

    def __init__(
        self,
        data_dir: Path,
        pose: BatchPoseModel,
        *,
        index: int = 0,
        batch_wait_s: float = 0.002,
        **extra: Any,
    ) -> None:
        self.path = socket_path(data_dir, index)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        listener.listen(16)
        self.reports: list[ServiceReport] = []
        self.server = InferenceServer(
            {"pose": pose}, listener, data_dir, self.reports.append, batch_wait_s, "run", **extra
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.server.serve, args=(self._stop.is_set,))
        self._thread.start()

    def latest(self) -> ServiceReport:
        return wait_for(lambda: self.reports and self.reports[-1], 5, "a report")  # type: ignore[no-any-return]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
