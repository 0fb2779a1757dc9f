"""What the manager hands a new worker process: small, picklable, no live objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WorkerSpec:
    camera: dict[str, Any]  # CameraConfig as JSON data
    model: dict[str, Any]  # ModelConfig as JSON data
    data_dir: str
    slot: int
    manager_pid: int
    live_every_n: int
    run_id: str
    storage_url: str = ""  # where clips and snapshots go; empty: the data folder
