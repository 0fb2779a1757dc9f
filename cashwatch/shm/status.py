"""The status table: a header for the manager and, per camera slot, two typed records.

This module is the single definition of the layout; the manager, the workers, the
CLI and the dashboard all go through it. Each slot holds the manager's record
(identity and supervision) and the worker's record (capture and detection), each
under its own sequence lock (odd while a write is in progress) and each with exactly
one writer, so a reader never returns a half-written or a mixed record:

- `ManagerStatus`: written only by the manager's main loop (for a Ray worker, the
  manager's relay writes the worker's record too, from the same loop).
- `WorkerStatus`: written only by the camera's worker (its own serialising owner, see
  cashwatch/worker/process.py), or by the manager's relay for a Ray actor.

Readers get a `CameraStatus`, the two merged: the worker's record counts only while
it belongs to the run the manager started last (`run_id`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from cashwatch.shm import segments
from cashwatch.util.redact import mask_credentials

MAGIC = 0xC5A5_3A7C
# 6: the worker's customer_seen_ts (a camera on a till).
# 5: each record names the process writing it (`writer`). 4: the record split in two by
# writer (manager, worker), tamper, source, journal and detection trouble as explicit
# fields. 3: the header's db_error. A reader of another version would read every field
# after the change at the wrong offset: it refuses instead.
VERSION = 6
# How long a reader waits for a record's writer to finish before it asks whether the
# writer still runs. A live writer holds the lock for microseconds, but on a loaded
# machine it can be descheduled mid-write for longer than this.
READ_PATIENCE_S = 0.05
# How long a reader waits on a writer that still runs (it was descheduled) before it
# takes the record as it is: a writer stopped mid-write (SIGSTOP, a debugger) must not
# hang the manager's loop or the dashboard. A writer that is gone ends the wait at once.
WRITER_PATIENCE_S = 2.0
# The lock every record starts with: the sequence (odd while a write is in progress)
# and the pid of the process writing, so that a reader can tell a slow writer from a
# dead one
LOCK_FIELDS: list[tuple[str, str]] = [("seq", "<u8"), ("writer", "<i4")]
STATES = ("empty", "starting", "connecting", "running", "reconnecting", "stopped", "error")

HEADER_DTYPE = np.dtype(
    [
        ("magic", "<u4"),
        ("version", "<u4"),
        ("capacity", "<u4"),
        ("manager_pid", "<i4"),
        ("manager_started_ts", "<f8"),
        ("manager_heartbeat_ts", "<f8"),
        ("config_error", "S1024"),
        ("config_path", "S512"),
        ("db_error", "S512"),
    ]
)

MANAGER_DTYPE = np.dtype(
    [
        *LOCK_FIELDS,
        ("camera_id", "S32"),
        ("name", "S80"),
        ("site", "S64"),
        ("node", "S64"),
        ("source", "S256"),
        ("run_id", "S32"),
        ("state", "u1"),
        ("pid", "<i4"),
        ("core", "<i2"),
        ("restarts", "<u4"),
        ("cpu_percent", "<f4"),
        ("rss_mib", "<f4"),
        ("start_ts", "<f8"),
        ("heartbeat_ts", "<f8"),
        ("error", "S512"),
    ]
)

WORKER_DTYPE = np.dtype(
    [
        *LOCK_FIELDS,
        ("run_id", "S32"),
        ("state", "u1"),
        ("frames_read", "<u8"),
        ("frames_processed", "<u8"),
        ("frames_skipped", "<u8"),
        ("skipped_motion", "<u8"),
        ("skipped_busy", "<u8"),
        ("events_detected", "<u8"),
        ("camera_fps", "<f4"),
        ("process_fps", "<f4"),
        ("detection_fps", "<f4"),
        ("inference_ms", "<f4"),
        ("width", "<u2"),
        ("height", "<u2"),
        ("last_frame_ts", "<f8"),
        ("heartbeat_ts", "<f8"),
        ("reconnects", "<u4"),
        ("tamper_since_ts", "<f8"),
        ("customer_seen_ts", "<f8"),
        ("tamper_reason", "S64"),
        ("source_error", "S512"),
        ("journal_error", "S512"),  # as long as the old last_error: exception texts
        ("detection_error", "S512"),
    ]
)


class NoFreeSlot(RuntimeError):
    """Every record is taken: the table was sized by `[manager] max_cameras` at start."""


class StatusLayoutError(FileNotFoundError):
    """The table was made by a CashWatch of another version (a FileNotFoundError, so
    callers that treat a missing table as "no manager" keep working)."""


@dataclass(frozen=True)
class HeaderStatus:
    """The manager's own state, one per table."""

    magic: int = 0
    version: int = 0
    capacity: int = 0
    manager_pid: int = 0
    manager_started_ts: float = 0.0
    manager_heartbeat_ts: float = 0.0
    config_error: str = ""
    config_path: str = ""
    db_error: str = ""


@dataclass(frozen=True)
class ManagerStatus:
    """A camera as the manager knows it: identity and supervision."""

    camera_id: str = ""
    name: str = ""
    site: str = ""
    node: str = ""
    source: str = ""  # credentials masked
    run_id: str = ""  # the run the manager started last
    state: str = "empty"  # starting (a run is under way), stopped or error
    pid: int = 0
    core: int = 0
    restarts: int = 0
    cpu_percent: float = 0.0
    rss_mib: float = 0.0
    start_ts: float = 0.0
    heartbeat_ts: float = 0.0  # the manager's last sign of the run (its start, Ray placing it)
    error: str = ""  # why the camera is not running, or what the manager has to say


@dataclass(frozen=True)
class WorkerStatus:
    """A camera as its worker reports it: capture, counters and its troubles."""

    run_id: str = ""
    state: str = "empty"  # starting, connecting, running, reconnecting or error
    frames_read: int = 0
    frames_processed: int = 0
    frames_skipped: int = 0
    skipped_motion: int = 0
    skipped_busy: int = 0
    events_detected: int = 0
    camera_fps: float = 0.0
    process_fps: float = 0.0
    detection_fps: float = 0.0
    inference_ms: float = 0.0
    width: int = 0
    height: int = 0
    last_frame_ts: float = 0.0
    heartbeat_ts: float = 0.0
    reconnects: int = 0
    tamper_since_ts: float = 0.0
    # the last sampled frame with a customer in view (cameras on a till; 0: none yet)
    customer_seen_ts: float = 0.0
    tamper_reason: str = ""  # set while a tamper event is open: the view is covered, …
    source_error: str = ""  # the source's problem, cleared once frames flow
    journal_error: str = ""  # records held in memory because the disk refuses writes
    detection_error: str = ""  # why detection is off, for as long as it is


@dataclass(frozen=True)
class CameraStatus:
    """What readers see of one slot: both records, merged by `live`."""

    slot: int
    manager: ManagerStatus
    worker: WorkerStatus

    @property
    def camera_id(self) -> str:
        return self.manager.camera_id

    @property
    def live(self) -> bool:
        """The worker's record speaks for the camera: it belongs to the run the manager
        started last, and the manager has not since booked that run as ended."""
        return (
            self.manager.state == "starting"
            and bool(self.worker.run_id)
            and self.worker.run_id == self.manager.run_id
        )

    @property
    def state(self) -> str:
        return self.worker.state if self.live else self.manager.state

    @property
    def heartbeat_ts(self) -> float:
        own = self.worker.heartbeat_ts if self.worker.run_id == self.manager.run_id else 0.0
        return max(self.manager.heartbeat_ts, own)

    @property
    def tamper_reason(self) -> str:
        return self.worker.tamper_reason if self.live else ""

    @property
    def counters(self) -> WorkerStatus:
        """The worker's numbers: the last run's, rates zero once it is no longer live."""
        if self.worker.run_id != self.manager.run_id:
            return WorkerStatus()  # a run of another camera, or one not reporting yet
        if self.live:
            return self.worker
        return dataclasses.replace(self.worker, camera_fps=0.0, process_fps=0.0, detection_fps=0.0)


_Record = TypeVar("_Record")


def _encode(field: str, value: Any, dtype: np.dtype[Any]) -> Any:
    if field == "state":
        return STATES.index(value) if isinstance(value, str) else int(value)
    if dtype[field].kind == "S":
        # Masked before the cut, whoever wrote the text: a URL cut before its `@` no
        # longer looks like one, and its password would then be shown as it is.
        raw = mask_credentials(str(value)).encode("utf-8")[: dtype[field].itemsize]
        return raw.decode("utf-8", "ignore").encode("utf-8")  # never cut a character in half
    return value


def _decode(record: np.void, kind: type[_Record]) -> _Record:
    """The record as dataclass `kind`, whose fields are a subset of the record's."""
    out: dict[str, Any] = {}
    for name in (f.name for f in dataclasses.fields(kind)):  # type: ignore[arg-type]
        value = record[name]
        if record.dtype[name].kind == "S":
            out[name] = bytes(value).decode("utf-8", "replace")
        elif name == "state":
            out[name] = STATES[int(value)] if int(value) < len(STATES) else "error"
        else:
            out[name] = value.item()
    return kind(**out)


def _check_fields(fields: dict[str, Any], kind: type[Any]) -> None:
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = set(fields) - known
    if unknown:
        raise KeyError(f"{kind.__name__} has no field {', '.join(sorted(unknown))}")


def _write(records: np.ndarray, slot: int, fields: dict[str, Any]) -> None:
    """Write fields of one record under its sequence lock (by its one writer only)."""
    # encoded (masked, cut) first: the write itself is kept short, so readers that
    # poll a writer publishing constantly still find the record between two writes
    encoded = [(key, _encode(key, value, records.dtype)) for key, value in fields.items()]
    records["writer"][slot] = os.getpid()
    seq = records["seq"]
    seq[slot] = int(seq[slot]) | 1  # odd: write in progress
    try:
        for key, value in encoded:
            records[key][slot] = value
    finally:  # a value numpy refuses must not leave readers waiting on a live writer
        seq[slot] = int(seq[slot]) + 1


def _read(records: np.ndarray, slot: int, retries: int) -> np.void:
    """A copy taken while no write was in progress. A live writer holds the lock for
    microseconds, but one descheduled on a loaded machine may hold it for longer than
    READ_PATIENCE_S; the reader then waits on while the writer runs, up to
    WRITER_PATIENCE_S. Only a writer that is gone, or stopped, mid-write makes the reader
    take its half-written record as it is, so that it cannot hang readers."""
    record: np.void = records[slot].copy()
    patience = READ_PATIENCE_S
    start = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        before = int(records["seq"][slot])
        if before % 2 == 0:
            record = records[slot].copy()
            if int(records["seq"][slot]) == before:
                return record
        waited = time.monotonic() - start
        if attempt >= retries and waited >= patience:
            if patience >= WRITER_PATIENCE_S or not _writing(int(records["writer"][slot])):
                return record
            patience = WRITER_PATIENCE_S
        # let the writer finish; past the quick tries, without burning a core
        time.sleep(0 if attempt < retries else 1e-4)


def _writing(pid: int) -> bool:
    """Whether process `pid` can still finish a write: it exists and is not stopped or
    a zombie. (pid 0: a record no one has written under version 5.)"""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # the state follows the command name, which is in parentheses and may hold any byte
            state = stat.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"T", b"t", b"Z", b"X")


def _unlock(records: np.ndarray, slot: int) -> None:
    seq = int(records["seq"][slot])
    if seq % 2:
        records["seq"][slot] = seq + 1


def _zero(records: np.ndarray, slot: int) -> None:
    seq = int(records["seq"][slot])
    records[slot] = np.zeros((), dtype=records.dtype)
    records["seq"][slot] = (seq | 1) + 1


class StatusTable:
    """Attach with `StatusTable.attach(data_dir)`; the manager uses `create`."""

    def __init__(self, shm: Any, owner: bool) -> None:
        self._shm = shm
        self._owner = owner
        self.header = np.ndarray((1,), dtype=HEADER_DTYPE, buffer=shm.buf, offset=0)
        capacity = int(self.header["capacity"][0])
        self.managers = np.ndarray(
            (capacity,), dtype=MANAGER_DTYPE, buffer=shm.buf, offset=HEADER_DTYPE.itemsize
        )
        self.workers = np.ndarray(
            (capacity,),
            dtype=WORKER_DTYPE,
            buffer=shm.buf,
            offset=HEADER_DTYPE.itemsize + MANAGER_DTYPE.itemsize * capacity,
        )

    @property
    def name(self) -> str:
        return str(self._shm.name)

    @property
    def capacity(self) -> int:
        return int(self.managers.shape[0])

    @classmethod
    def create(cls, data_dir: Path, capacity: int, config_path: Path) -> StatusTable:
        size = HEADER_DTYPE.itemsize + (MANAGER_DTYPE.itemsize + WORKER_DTYPE.itemsize) * capacity
        shm = segments.create(segments.status_name(data_dir), size)
        header = np.ndarray((1,), dtype=HEADER_DTYPE, buffer=shm.buf, offset=0)
        header["capacity"] = capacity
        header["version"] = VERSION
        header["config_path"] = _encode("config_path", str(config_path), HEADER_DTYPE)
        header["magic"] = MAGIC  # last: readers treat a table without magic as not ready
        return cls(shm, owner=True)

    @classmethod
    def attach(cls, data_dir: Path) -> StatusTable:
        """Raises FileNotFoundError when no manager has created the table, and
        StatusLayoutError when a CashWatch of another version did."""
        shm = segments.attach(segments.status_name(data_dir))
        # magic and version sit first in every layout, so they can be read from any
        magic, version = np.ndarray((2,), dtype="<u4", buffer=shm.buf, offset=0).tolist()
        if magic != MAGIC:
            shm.close()
            raise FileNotFoundError("status table is not initialised (manager starting?)")
        if version != VERSION:
            shm.close()
            raise StatusLayoutError(
                f"the running manager publishes status layout version {version}; this "
                f"CashWatch reads version {VERSION}: restart the manager (`cashwatch run`), "
                "or this dashboard or CLI, so that both run the same CashWatch version"
            )
        return cls(shm, owner=False)

    # header -----------------------------------------------------------------------
    def set_header(self, **fields: Any) -> None:
        """Set header fields (by the manager only: its main loop and heartbeat thread
        write different fields)."""
        _check_fields(fields, HeaderStatus)
        for key, value in fields.items():
            self.header[key] = _encode(key, value, HEADER_DTYPE)

    def read_header(self) -> HeaderStatus:
        return _decode(self.header[0].copy(), HeaderStatus)

    # records ----------------------------------------------------------------------
    def update_manager(self, slot: int, **fields: Any) -> None:
        """Write fields of the slot's manager record (by the manager only)."""
        _check_fields(fields, ManagerStatus)
        _write(self.managers, slot, fields)

    def write_worker(self, slot: int, status: WorkerStatus) -> None:
        """Replace the slot's worker record (by its worker only, or the manager's relay
        for a Ray actor)."""
        _write(self.workers, slot, dataclasses.asdict(status))

    def clear_lock(self, slot: int) -> None:
        """After the worker died mid-update: make its record readable again (the
        manager does so only once the worker is gone, so it never races a writer)."""
        _unlock(self.workers, slot)

    def clear(self, slot: int) -> None:
        """Free the slot (the manager, once its worker is gone)."""
        _zero(self.managers, slot)
        _zero(self.workers, slot)

    def read_manager(self, slot: int, retries: int = 100) -> ManagerStatus:
        return _decode(_read(self.managers, slot, retries), ManagerStatus)

    def read_worker(self, slot: int, retries: int = 100) -> WorkerStatus:
        return _decode(_read(self.workers, slot, retries), WorkerStatus)

    def read(self, slot: int, retries: int = 100) -> CameraStatus | None:
        """A consistent copy of both records of one slot, or None for an empty slot."""
        manager = self.read_manager(slot, retries)
        if not manager.camera_id:
            return None
        return CameraStatus(slot, manager, self.read_worker(slot, retries))

    def read_all(self) -> dict[str, CameraStatus]:
        out = {}
        for slot in range(self.capacity):
            if self.managers["camera_id"][slot]:
                camera = self.read(slot)
                if camera is not None:
                    out[camera.camera_id] = camera
        return out

    def free_slot(self) -> int:
        """An empty record's slot; NoFreeSlot when all `capacity` are taken."""
        for slot in range(self.capacity):
            if not self.managers["camera_id"][slot]:
                return slot
        raise NoFreeSlot(
            f"all {self.capacity} camera slots are in use "
            "(raise [manager] max_cameras and restart the manager)"
        )

    def close(self) -> None:
        # numpy views must go before the buffer can be released
        del self.header, self.managers, self.workers
        self._shm.close()
        if self._owner:
            segments.unlink_quietly(self._shm.name)
