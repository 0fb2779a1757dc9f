"""The status table: a header for the manager and one fixed-layout record per camera.

This module is the single definition of the layout; the manager, the workers, the
CLI and the dashboard all go through it. A record is written under a sequence lock
(odd while a write is in progress) so a reader never returns a half-written record.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from cashwatch.shm import segments
from cashwatch.util.redact import mask_credentials

MAGIC = 0xC5A5_3A7C
# 3: the header's db_error (why events cannot be stored). A reader of another version
# would read every field after the change at the wrong offset: it refuses instead.
VERSION = 3
STATES = ("empty", "starting", "connecting", "running", "reconnecting", "stopped", "error")

HEADER_DTYPE = np.dtype([
    ("magic", "<u4"), ("version", "<u4"), ("capacity", "<u4"), ("manager_pid", "<i4"),
    ("manager_started_ts", "<f8"), ("manager_heartbeat_ts", "<f8"),
    ("config_error", "S1024"), ("config_path", "S512"),
    ("db_error", "S512"),
])

RECORD_DTYPE = np.dtype([
    ("seq", "<u8"),
    ("camera_id", "S32"), ("name", "S80"), ("site", "S64"), ("node", "S64"),
    ("state", "u1"), ("pid", "<i4"), ("core", "<i2"),
    ("frames_read", "<u8"), ("frames_processed", "<u8"), ("frames_skipped", "<u8"),
    ("skipped_motion", "<u8"), ("skipped_busy", "<u8"), ("events_detected", "<u8"),
    ("camera_fps", "<f4"), ("process_fps", "<f4"), ("detection_fps", "<f4"),
    ("inference_ms", "<f4"), ("cpu_percent", "<f4"), ("rss_mib", "<f4"),
    ("width", "<u2"), ("height", "<u2"),
    ("start_ts", "<f8"), ("last_frame_ts", "<f8"), ("heartbeat_ts", "<f8"),
    ("restarts", "<u4"), ("reconnects", "<u4"),
    ("last_error", "S512"), ("source", "S256"),
])

_STRING_FIELDS = {name for name in RECORD_DTYPE.names or () if RECORD_DTYPE[name].kind == "S"}
_STRING_FIELDS |= {name for name in HEADER_DTYPE.names or () if HEADER_DTYPE[name].kind == "S"}


class NoFreeSlot(RuntimeError):
    """Every record is taken: the table was sized by `[manager] max_cameras` at start."""


class StatusLayoutError(FileNotFoundError):
    """The table was made by a CashWatch of another version (a FileNotFoundError, so
    callers that treat a missing table as "no manager" keep working)."""


def _encode(field: str, value: Any, dtype: np.dtype) -> Any:
    if field == "state":
        return STATES.index(value) if isinstance(value, str) else int(value)
    if field in _STRING_FIELDS:
        # Masked before the cut, whoever wrote the text: a URL cut before its `@` no
        # longer looks like one, and its password would then be shown as it is.
        raw = mask_credentials(str(value)).encode("utf-8")[: dtype[field].itemsize]
        return raw.decode("utf-8", "ignore").encode("utf-8")  # never cut a character in half
    return value


def _decode(record: np.void, dtype: np.dtype) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in dtype.names or ():
        value = record[name]
        if name in _STRING_FIELDS:
            out[name] = bytes(value).decode("utf-8", "replace")
        elif name == "state":
            out[name] = STATES[int(value)] if int(value) < len(STATES) else "error"
        else:
            out[name] = value.item()
    out.pop("seq", None)
    return out


class StatusTable:
    """Attach with `StatusTable.attach(data_dir)`; the manager uses `create`."""

    def __init__(self, shm: Any, owner: bool) -> None:
        self._shm = shm
        self._owner = owner
        self.header = np.ndarray((1,), dtype=HEADER_DTYPE, buffer=shm.buf, offset=0)
        capacity = int(self.header["capacity"][0])
        self.records = np.ndarray((capacity,), dtype=RECORD_DTYPE, buffer=shm.buf,
                                  offset=HEADER_DTYPE.itemsize)

    @property
    def name(self) -> str:
        return str(self._shm.name)

    @property
    def capacity(self) -> int:
        return int(self.records.shape[0])

    @classmethod
    def create(cls, data_dir: Path, capacity: int, config_path: Path) -> StatusTable:
        size = HEADER_DTYPE.itemsize + RECORD_DTYPE.itemsize * capacity
        shm = segments.create(segments.status_name(data_dir), size)
        header = np.ndarray((1,), dtype=HEADER_DTYPE, buffer=shm.buf, offset=0)
        header["capacity"] = capacity
        header["version"] = VERSION
        header["config_path"] = _encode("config_path", str(config_path), HEADER_DTYPE)
        header["magic"] = MAGIC  # last: readers treat a table without magic as not ready
        return cls(shm, owner=True)

    @classmethod
    def attach(cls, data_dir: Path) -> StatusTable:
        """Raises FileNotFoundError when no manager has created the table."""
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
                f"CashWatch reads version {VERSION}: restart the manager (`cashwatch run`) "
                "so that it and this program are the same version")
        return cls(shm, owner=False)

    # header -----------------------------------------------------------------------
    def set_header(self, **fields: Any) -> None:
        for key, value in fields.items():
            self.header[key] = _encode(key, value, HEADER_DTYPE)

    def read_header(self) -> dict[str, Any]:
        return _decode(self.header[0].copy(), HEADER_DTYPE)

    # records ----------------------------------------------------------------------
    def update(self, slot: int, **fields: Any) -> None:
        """Write fields of one record under its sequence lock."""
        seq = self.records["seq"]
        seq[slot] = (int(seq[slot]) | 1)  # odd: write in progress
        for key, value in fields.items():
            self.records[key][slot] = _encode(key, value, RECORD_DTYPE)
        seq[slot] = int(seq[slot]) + 1

    def clear_lock(self, slot: int) -> None:
        """After a writer died mid-update: make the record readable again."""
        seq = int(self.records["seq"][slot])
        if seq % 2:
            self.records["seq"][slot] = seq + 1

    def clear(self, slot: int) -> None:
        seq = int(self.records["seq"][slot])
        self.records[slot] = np.zeros((), dtype=RECORD_DTYPE)
        self.records["seq"][slot] = (seq | 1) + 1

    def read(self, slot: int, retries: int = 100) -> dict[str, Any] | None:
        """A consistent copy of one record, or None for an empty slot."""
        record = self.records[slot].copy()
        for _ in range(retries):
            before = int(self.records["seq"][slot])
            if before % 2 == 0:
                record = self.records[slot].copy()
                if int(self.records["seq"][slot]) == before:
                    break
            time.sleep(0)  # let the writer finish (a dead writer is bounded by retries)
        decoded = _decode(record, RECORD_DTYPE)
        return decoded if decoded["camera_id"] else None

    def read_all(self) -> dict[str, dict[str, Any]]:
        out = {}
        for slot in range(self.capacity):
            if self.records["camera_id"][slot]:
                record = self.read(slot)
                if record is not None:
                    record["slot"] = slot
                    out[record["camera_id"]] = record
        return out

    def slot_of(self, camera_id: str) -> int | None:
        wanted = camera_id.encode()
        for slot in range(self.capacity):
            if bytes(self.records["camera_id"][slot]) == wanted:
                return slot
        return None

    def free_slot(self) -> int:
        """An empty record's slot; NoFreeSlot when all `capacity` are taken."""
        for slot in range(self.capacity):
            if not self.records["camera_id"][slot]:
                return slot
        raise NoFreeSlot(f"all {self.capacity} camera slots are in use "
                         "(raise [manager] max_cameras and restart the manager)")

    def close(self) -> None:
        # numpy views must go before the buffer can be released
        del self.header, self.records
        self._shm.close()
        if self._owner:
            segments.unlink_quietly(self._shm.name)
