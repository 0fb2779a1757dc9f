"""The services table: per shared inference service, two records, each with one writer.

Laid out and locked like the status table (cashwatch.shm.status): the manager writes
`ServiceSupervision` (which process, restarts, why it is down), the service itself
`ServiceReport` (heartbeat, queue, batches, inference time). Readers (`cashwatch
status`, the System page) get `ServiceStatus`, the two merged by run id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cashwatch.shm import segments
from cashwatch.shm.status import (
    LOCK_FIELDS,
    _check_fields,
    _decode,
    _read,
    _unlock,
    _write,
    _zero,
)

MAGIC = 0xC5A5_5E7C
# 2: each record names its writer (the status table's LOCK_FIELDS); 3: video requests
VERSION = 3
MAX_SERVICES = 64

_HEADER = np.dtype([("magic", "<u4"), ("version", "<u4"), ("capacity", "<u4")])

SUPERVISION_DTYPE = np.dtype(
    [
        *LOCK_FIELDS,
        ("name", "S32"),
        ("run_id", "S32"),
        ("state", "u1"),
        ("pid", "<i4"),
        ("device", "S64"),
        ("restarts", "<u4"),
        ("start_ts", "<f8"),
        ("cpu_percent", "<f4"),
        ("rss_mib", "<f4"),
        ("error", "S512"),
    ]
)

REPORT_DTYPE = np.dtype(
    [
        *LOCK_FIELDS,
        ("run_id", "S32"),
        ("state", "u1"),
        ("heartbeat_ts", "<f8"),
        ("models", "S256"),
        ("clients", "<u4"),
        ("queue_len", "<u4"),
        ("queue_max", "<u4"),
        ("requests", "<u8"),
        ("batches", "<u8"),
        ("batch_mean", "<f4"),
        ("batch_max", "<u4"),
        ("inference_ms", "<f4"),
        ("dropped", "<u8"),
        ("failed", "<u8"),
        ("videos", "<u8"),
        ("video_ms", "<f4"),
    ]
)


@dataclass(frozen=True)
class ServiceSupervision:
    """A service as the manager knows it."""

    name: str = ""  # "inference-0"
    run_id: str = ""
    state: str = "empty"  # starting (a run is under way), stopped or error
    pid: int = 0
    device: str = ""  # "cpu 0", "cpu 2-3", "cuda:0"
    restarts: int = 0
    start_ts: float = 0.0
    cpu_percent: float = 0.0
    rss_mib: float = 0.0
    error: str = ""  # why it is down, or its last crash


@dataclass(frozen=True)
class ServiceReport:
    """A service as it reports itself; rates and means are over its last report period."""

    run_id: str = ""
    state: str = "empty"  # starting (loading its models) or running
    heartbeat_ts: float = 0.0
    models: str = ""  # "pose=yolo11n-pose@openvino-f32-640"
    clients: int = 0  # camera workers connected
    queue_len: int = 0  # requests waiting now
    queue_max: int = 0  # the most waiting at once in the last period
    requests: int = 0  # answered since it started
    batches: int = 0
    batch_mean: float = 0.0  # requests per batch in the last period
    batch_max: int = 0
    inference_ms: float = 0.0  # mean model time per batch in the last period
    dropped: int = 0  # past their deadline before they ran
    failed: int = 0  # the model raised, or the input could not be read
    videos: int = 0  # video windows answered since it started (the violence verifier)
    video_ms: float = 0.0  # the video model's time on the last of them


@dataclass(frozen=True)
class ServiceStatus:
    """One service as readers see it."""

    index: int
    supervision: ServiceSupervision
    report: ServiceReport

    @property
    def live(self) -> bool:
        """The report belongs to the run the manager started last, and it runs."""
        return (
            self.supervision.state == "starting"
            and bool(self.report.run_id)
            and self.report.run_id == self.supervision.run_id
        )

    @property
    def state(self) -> str:
        return self.report.state if self.live else self.supervision.state


def table_name(data_dir: Path) -> str:
    return segments.prefix_for(data_dir) + "services"


class ServiceTable:
    """`create` (manager) or `attach` (services, readers)."""

    def __init__(self, shm: Any, owner: bool) -> None:
        self._shm = shm
        self._owner = owner
        magic, version, capacity = np.ndarray((3,), "<u4", buffer=shm.buf).tolist()
        if magic != MAGIC or version != VERSION:
            shm.close()
            raise FileNotFoundError("the services table is of another CashWatch version")
        self.capacity = int(capacity)
        offset = _HEADER.itemsize
        self.supervision = np.ndarray(
            (self.capacity,), SUPERVISION_DTYPE, buffer=shm.buf, offset=offset
        )
        offset += SUPERVISION_DTYPE.itemsize * self.capacity
        self.reports = np.ndarray((self.capacity,), REPORT_DTYPE, buffer=shm.buf, offset=offset)

    @classmethod
    def create(cls, data_dir: Path, capacity: int = MAX_SERVICES) -> ServiceTable:
        size = _HEADER.itemsize + (SUPERVISION_DTYPE.itemsize + REPORT_DTYPE.itemsize) * capacity
        shm = segments.create(table_name(data_dir), size)
        np.ndarray((3,), "<u4", buffer=shm.buf)[:] = (MAGIC, VERSION, capacity)
        return cls(shm, owner=True)

    @classmethod
    def attach(cls, data_dir: Path) -> ServiceTable:
        """FileNotFoundError when no manager runs shared services for `data_dir`."""
        return cls(segments.attach(table_name(data_dir)), owner=False)

    def update_supervision(self, index: int, **fields: Any) -> None:
        _check_fields(fields, ServiceSupervision)
        _write(self.supervision, index, fields)

    def write_report(self, index: int, report: ServiceReport) -> None:
        _write(self.reports, index, report.__dict__)

    def clear_lock(self, index: int) -> None:
        """After the service's process died: a write it left half-done must not stall readers."""
        _unlock(self.reports, index)

    def clear(self, index: int) -> None:
        _zero(self.supervision, index)
        _zero(self.reports, index)

    def read(self, index: int) -> ServiceStatus:
        return ServiceStatus(
            index,
            _decode(_read(self.supervision, index, 100), ServiceSupervision),
            _decode(_read(self.reports, index, 100), ServiceReport),
        )

    def read_all(self) -> list[ServiceStatus]:
        """The services the manager has described, in index order."""
        found = (self.read(i) for i in range(self.capacity))
        return [status for status in found if status.supervision.name]

    def close(self) -> None:
        # views go before the segment closes
        self.supervision = self.reports = np.zeros(0)
        self._shm.close()
        if self._owner:
            segments.unlink_quietly(self._shm.name)


def read_services(data_dir: Path) -> list[ServiceStatus]:
    """Every shared service's status; [] when none runs (per-camera models, no manager)."""
    try:
        table = ServiceTable.attach(data_dir)
    except FileNotFoundError:
        return []
    try:
        return table.read_all()
    finally:
        table.close()
