"""Where camera workers run: the manager decides which cameras run, a runner starts them.

- `LocalRunner`: one spawned process per camera on this machine, pinned to a core,
  writing status and frames straight into the manager's shared memory (the default).
- `RayRunner` (`cashwatch run --ray ADDRESS`): one Ray actor per camera anywhere in a
  cluster; the manager polls each actor's latest status and frame into its shared
  memory, so the dashboard and `cashwatch status` read them as for local workers.

Both hand the supervisor (cashwatch.manager.supervisor) something that behaves like a
process, so back-off, restart counting and stopping are the same code for both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from cashwatch.config import RayConfig
from cashwatch.manager.supervisor import MonitoredWorker
from cashwatch.manager.workers import LaunchSettings
from cashwatch.shm.frames import FrameSlot
from cashwatch.shm.status import StatusTable


class RunnerUnavailable(Exception):
    """The chosen runner cannot start (e.g. the Ray head does not answer)."""


class WorkerRunner(Protocol):
    #: True when workers are this machine's processes: the manager then pins them to
    #: cores and measures their CPU itself.
    local_processes: bool

    def spawn(self, worker: MonitoredWorker, core: int | None, launch: LaunchSettings) -> None:
        """Start the worker's next run; sets worker.process, stop_event, run_id, times."""

    def relay(
        self,
        workers: Iterable[MonitoredWorker],
        status: StatusTable,
        slots: Mapping[int, FrameSlot],
    ) -> None:
        """Bring remote workers' latest status and frames into the shared memory."""

    def node_of(self, worker: MonitoredWorker) -> str:
        """The machine the worker runs on, for status ('' while it is being placed)."""

    def close(self) -> None: ...


def make_runner(
    ray_address: str | None, ray_config: RayConfig, config_path: str = ""
) -> WorkerRunner:
    """The local runner, or the Ray runner connected to `ray_address` ('auto' or host:port).

    Ray is imported only here and only with an address, so a manager without `--ray`
    never loads it. `config_path` is where Ray nodes look first for a camera's
    credentials, which stay out of what is sent to them (cashwatch.worker.spec).
    """
    if not ray_address:
        from cashwatch.manager.runners.local import LocalRunner

        return LocalRunner()
    from cashwatch.manager.runners.ray_runner import RayRunner

    return RayRunner(ray_address, ray_config, config_path)
