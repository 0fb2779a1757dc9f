"""Reading the live state of an installation, for the CLI and the dashboard."""

from __future__ import annotations

import dataclasses
import time
import unicodedata
from pathlib import Path
from typing import Any

import psutil

from cashwatch.i18n import _
from cashwatch.shm.services import ServiceReport, ServiceStatus, read_services
from cashwatch.shm.status import CameraStatus, HeaderStatus, StatusLayoutError, StatusTable

MANAGER_STALE_S = 5.0
# A running camera's note while its view is tampered with (the worker's `tamper_reason`,
# shown as its `last_error`): frames still flow, so the state stays "running"; the
# dashboard shows the note as trouble. A display text: it lives here, on the readers' side.
TAMPERED_NOTE = "view tampered with"


def tampered_note(reason: str, since_ts: float) -> str:
    """`view tampered with: covered since 14:02:11`, in the worker's local time.

    >>> tampered_note("covered", 0.0).startswith(TAMPERED_NOTE + ": covered since ")
    True
    """
    return f"{TAMPERED_NOTE}: {reason} since {time.strftime('%H:%M:%S', time.localtime(since_ts))}"


# The texts of a camera's record that may quote its source's URL: readers mask them
# again, whatever manager or worker wrote them (an older one did not mask)
RECORD_TEXTS = (
    "last_error",
    "source",
    "source_error",
    "journal_error",
    "detection_error",
    "tamper_reason",
    "manager_error",
)


def last_error(camera: CameraStatus) -> str:
    """The one problem shown for a camera, in the order the worker has always put them:
    the source's, an open tamper event, the journal's, detection's; the manager's own
    once the worker no longer speaks for the camera."""
    if not camera.live:
        return camera.manager.error
    worker = camera.worker
    tamper = (
        tampered_note(worker.tamper_reason, worker.tamper_since_ts) if worker.tamper_reason else ""
    )
    return worker.source_error or tamper or worker.journal_error or worker.detection_error


def camera_record(camera: CameraStatus) -> dict[str, Any]:
    """One camera as the CLI's JSON and the dashboard read it: the fields of the status
    record before it was split by writer, plus the explicit troubles and `slot`."""
    manager, counters = camera.manager, camera.counters
    record: dict[str, Any] = dataclasses.asdict(counters)
    record.update(dataclasses.asdict(manager))
    for merged in ("run_id", "error"):  # kept apart below, under names that say whose
        record.pop(merged)
    record.update(
        state=camera.state,
        heartbeat_ts=camera.heartbeat_ts,
        last_error=last_error(camera),
        tamper_reason=camera.tamper_reason,
        tamper_since_ts=counters.tamper_since_ts if camera.tamper_reason else 0.0,
        manager_error=manager.error,
        slot=camera.slot,
    )
    return record


def service_record(service: ServiceStatus, now: float | None = None) -> dict[str, Any]:
    """One shared inference service as the CLI's JSON and the dashboard read it: the
    manager's fields (name, pid, device, restarts, cpu, rss, error) and, while the run
    the manager started reports, the service's own (queue, batches, inference ms)."""
    now = time.time() if now is None else now
    supervision = dataclasses.asdict(service.supervision)
    report = dataclasses.asdict(service.report if service.live else ServiceReport())
    record = {**report, **supervision}
    record.update(
        index=service.index,
        state=service.state,
        running=service.state == "running",
        uptime=(
            format_uptime(now - service.supervision.start_ts)
            if service.state == "running"
            else "00:00:00"
        ),
    )
    return record


def header_record(header: HeaderStatus) -> dict[str, Any]:
    return dataclasses.asdict(header)


class ManagerNotRunning(Exception):
    pass


def text_width(text: str) -> int:
    """The columns `text` takes in a terminal: a wide character (Hangul, CJK) two, a
    combining mark none, any other one.

    >>> text_width("camera"), text_width("카메라")
    (6, 6)
    """
    return sum(
        2 if unicodedata.east_asian_width(char) in "WF" else 0 if unicodedata.combining(char) else 1
        for char in text
    )


def pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal columns (`str.ljust` counts
    characters, so a Hangul heading would push its column out of line)."""
    return text + " " * max(0, width - text_width(text))


def format_uptime(seconds: float) -> str:
    """`HH:MM:SS`; hours keep counting past a day."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def manager_alive(header: dict[str, Any], now: float | None = None) -> bool:
    now = time.time() if now is None else now
    pid = int(header.get("manager_pid") or 0)
    fresh = now - float(header.get("manager_heartbeat_ts") or 0.0) < MANAGER_STALE_S
    return pid > 0 and fresh and psutil.pid_exists(pid)


def camera_records(table: StatusTable, now: float | None = None) -> dict[str, dict[str, Any]]:
    """Every camera of an open table, `camera_id -> camera_record()` plus what the CLI's
    JSON adds: `status` (the state again), `running` and `uptime`. Shared by
    `read_status` and the manager's own readers (its metrics), which hold the table."""
    now = time.time() if now is None else now
    records = {}
    for camera_id, camera in table.read_all().items():
        record = camera_record(camera)
        record["status"] = record["state"]  # the name the CLI's JSON documents
        running = record["state"] == "running" and record["pid"] > 0
        record["running"] = running
        record["uptime"] = format_uptime(now - record["start_ts"]) if running else "00:00:00"
        records[camera_id] = record
    return records


def read_status(data_dir: Path) -> dict[str, Any]:
    """`{"manager": {...}, "workers": {camera_id: {...}}, "services": [{...}, ...]}`.

    `services`: the shared inference services (empty with per-camera models).

    Raises ManagerNotRunning when no manager runs for this data_dir.
    """
    try:
        table = StatusTable.attach(data_dir)
    except StatusLayoutError as exc:
        raise ManagerNotRunning(
            _("cannot read the manager's status for {data_dir}: {reason}").format(
                data_dir=data_dir, reason=exc
            )
        ) from None
    except FileNotFoundError:
        raise ManagerNotRunning(
            _("no manager is running for {data_dir} (start it with `cashwatch run`)").format(
                data_dir=data_dir
            )
        ) from None
    try:
        header = header_record(table.read_header())
        if not manager_alive(header):
            raise ManagerNotRunning(
                _("the manager for {data_dir} (pid {pid}) is not running").format(
                    data_dir=data_dir, pid=header["manager_pid"]
                )
            )
        workers = camera_records(table)
    finally:
        table.close()
    services = [service_record(service) for service in read_services(data_dir)]
    return {"manager": header, "workers": workers, "services": services}
