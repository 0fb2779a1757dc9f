"""What the manager publishes right now, merged with what the config says.

Every read attaches, copies and detaches: a manager restart re-creates the segments,
and a cached mapping would keep showing the dead manager's last numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cashwatch.config import CameraConfig, LoadedConfig
from cashwatch.i18n import _
from cashwatch.shm.frames import FrameSlot, LiveFrame
from cashwatch.shm.services import read_services
from cashwatch.shm.status import StatusLayoutError, StatusTable
from cashwatch.status import camera_record, header_record, manager_alive, service_record
from cashwatch.util.redact import mask_credentials


@dataclass
class LiveStatus:
    manager_running: bool
    header: dict[str, Any] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    problem: str = ""  # why the manager counts as not running


def read_status(data_dir: Path) -> LiveStatus:
    try:
        table = StatusTable.attach(data_dir)
    except StatusLayoutError as exc:  # a manager of another version (mid-upgrade)
        return LiveStatus(False, problem=_("{error}; showing history only").format(error=exc))
    except FileNotFoundError:
        return LiveStatus(
            False,
            problem=_(
                "the manager is not running (start it with `cashwatch run`); showing history only"
            ),
        )
    try:
        header = header_record(table.read_header())
        records = {
            camera_id: camera_record(camera) for camera_id, camera in table.read_all().items()
        }
    finally:
        table.close()
    if not manager_alive(header):
        age = time.time() - float(header.get("manager_heartbeat_ts") or 0.0)
        return LiveStatus(
            False,
            header,
            records,
            _("the manager has exited or not reported for {seconds} s; numbers are stale").format(
                seconds=f"{age:.0f}"
            ),
        )
    return LiveStatus(True, header, records)


def service_records(data_dir: Path) -> list[dict[str, Any]]:
    """The shared inference services (`service_record`), errors masked; [] when models
    run in each camera worker. Apart from `read_status`: only the System page shows them."""
    now = time.time()
    records = [service_record(service, now) for service in read_services(data_dir)]
    for record in records:
        record["error"] = mask_credentials(record["error"])
    return records


def read_frame(data_dir: Path, slot: int) -> LiveFrame | None:
    """A copy of the camera's latest frame, or None when there is none (yet)."""
    try:
        frame_slot = FrameSlot.attach(data_dir, slot)
    except FileNotFoundError:
        return None
    try:
        return frame_slot.read()
    finally:
        frame_slot.close()


@dataclass(frozen=True)
class CameraView:
    """One camera as the dashboard shows it: its config plus its live record, if any."""

    camera_id: str
    name: str
    site: str
    enabled: bool
    source: str  # credentials masked
    state: str
    record: dict[str, Any] | None
    config: CameraConfig | None
    config_error: str = ""


def _state(camera: CameraConfig, record: dict[str, Any] | None, manager_running: bool) -> str:
    if record is None or not manager_running:
        return "stopped" if not camera.enabled else "not running"
    if not camera.enabled and record["state"] in ("starting", "connecting", "running"):
        return "stopping"
    return str(record["state"])


def camera_views(loaded: LoadedConfig, status: LiveStatus) -> list[CameraView]:
    views = []
    for camera in loaded.app.cameras:
        record = status.records.get(camera.id)
        views.append(
            CameraView(
                camera_id=camera.id,
                name=camera.display_name,
                site=camera.site,
                enabled=camera.enabled,
                source=mask_credentials(camera.source),
                state=_state(camera, record, status.manager_running),
                record=record,
                config=camera,
            )
        )
    for camera_id, error in loaded.camera_errors.items():
        views.append(
            CameraView(
                camera_id=camera_id,
                name=camera_id,
                site="?",
                enabled=False,
                source="",
                state="error",
                record=None,
                config=None,
                config_error=mask_credentials(error),
            )
        )
    return views
