"""Machine and installation numbers for the System page."""

from __future__ import annotations

import os
import shutil
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cashwatch.auth import User
from cashwatch.i18n import N_, _
from cashwatch.util.log_lines import CAMERA_PREFIX, MANAGER_ORIGIN, SERVICE_PREFIX, line_origin
from cashwatch.util.redact import mask_credentials

LOG_TAIL_BYTES = 256 * 1024
ALL_ORIGINS = "all"  # the System page's choice of every process' lines
# the log's own writer and the choice of all, as the System page names them
ORIGIN_LABELS = {ALL_ORIGINS: N_("all"), MANAGER_ORIGIN: N_("manager")}
# a worker's or a service's state as the tables show it (the data keep the English word)
STATE_LABELS = {
    "running": N_("running"),
    "starting": N_("starting"),
    "connecting": N_("connecting"),
    "reconnecting": N_("reconnecting"),
    "stopping": N_("stopping"),
    "stopped": N_("stopped"),
    "not running": N_("not running"),
    "error": N_("error"),
    "empty": N_("empty"),
}


@dataclass(frozen=True)
class DiskUse:
    clips_bytes: int
    snapshots_bytes: int
    free_bytes: int
    total_bytes: int


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                continue  # deleted by retention while we walked
    return total


def disk_use(data_dir: Path) -> DiskUse:
    usage = shutil.disk_usage(data_dir)
    root = Path(data_dir)
    return DiskUse(
        folder_bytes(root / "clips"), folder_bytes(root / "snapshots"), usage.free, usage.total
    )


def log_tail(path: Path, lines: int = 200, origin: str = ALL_ORIGINS) -> list[str]:
    """The last lines of a log, reading only its end; credentials masked. `origin`:
    only the lines of that process (`manager`, `camera:<id>`, `inference:<n>`, see
    `log_origins`)."""
    tagged = tag_origins(_read_end(path))
    chosen = (line for who, line in tagged if origin in (ALL_ORIGINS, who))
    return [mask_credentials(line) for line in deque(chosen, maxlen=lines)]


def log_origins(path: Path) -> list[str]:
    """The processes with lines at the end of the log: the manager first, then the
    cameras (`camera:<id>`) in order of their ids, then the shared inference services
    (`inference:<n>`) in order of their numbers."""
    return sort_origins({who for who, _line in tag_origins(_read_end(path))})


def sort_origins(origins: Iterable[str]) -> list[str]:
    """The manager, the cameras by id, the services by number (2 before 10); the manager
    is always listed: its lines are the log's own.

    >>> sort_origins(["inference:10", "camera:b", "inference:2", "camera:a"])
    ['manager', 'camera:a', 'camera:b', 'inference:2', 'inference:10']
    """
    found = set(origins) - {MANAGER_ORIGIN}
    cameras = sorted(who for who in found if who.startswith(CAMERA_PREFIX))
    services = sorted(
        (who for who in found if who.startswith(SERVICE_PREFIX)),
        key=lambda who: int(who.removeprefix(SERVICE_PREFIX)),
    )
    others = sorted(found - set(cameras) - set(services))  # a kind of process added later
    return [MANAGER_ORIGIN, *cameras, *services, *others]


def tag_origins(lines: Iterable[str]) -> list[tuple[str, str]]:
    """Each line with the process that wrote it. A line that starts no record (a
    traceback's) belongs to the record above it; lines of a log written before lines
    named their process were the manager's, the only writer then.

    >>> tag_origins(["2026-12-06 13:50:01,123 camera:a[7] w ERROR boom", "Traceback …"])
    [('camera:a', '2026-12-06 13:50:01,123 camera:a[7] w ERROR boom'), ('camera:a', 'Traceback …')]
    """
    tagged: list[tuple[str, str]] = []
    current = MANAGER_ORIGIN
    for line in lines:
        current = line_origin(line) or current
        tagged.append((current, line))
    return tagged


def _read_end(path: Path) -> list[str]:
    if not path.is_file():
        return []
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - LOG_TAIL_BYTES))
        text = handle.read().decode("utf-8", "replace")
    return text.splitlines()


def may_read_manager_log(user: User) -> bool:
    """Only an admin of every site reads the manager's raw log.

    The log tells the whole installation's story: every camera's id, errors and hosts.
    Keeping only lines that name none of another site's cameras would be a deny list,
    and a log line can point at a camera in ways no filter knows (its source host, a
    worker's pid, a clip's path, a camera added since): a security product must fail
    closed. Everyone else has the Workers table, already limited to their sites.
    """
    return user.can("edit_cameras") and not user.limited_to_sites


def database_alert(header: dict[str, object]) -> str:
    """What to say about the event database, "" when the manager stores events fine.

    The manager publishes why it cannot store events (a damaged or full file) in its
    status header; the cameras go on and their events wait in the journal.
    """
    reason = str(header.get("db_error") or "")
    if not reason:
        return ""
    return _("Event database: {reason}").format(reason=mask_credentials(reason))


def workers_table(records: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per camera worker; its headings are marked for `shown_table`."""
    rows = [
        {
            N_("camera"): cid,
            N_("state"): r["state"],
            N_("node"): r.get("node", ""),
            N_("pid"): r["pid"],
            N_("core"): r["core"],
            N_("cpu %"): round(r["cpu_percent"], 1),
            N_("memory MiB"): round(r["rss_mib"]),
            N_("inference ms"): round(r["inference_ms"], 1),
            N_("restarts"): r["restarts"],
            N_("reconnects"): r["reconnects"],
        }
        for cid, r in sorted(records.items())
    ]
    return pd.DataFrame(rows)


def services_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The shared inference services, one row each; queue, batch and inference numbers
    are over the service's last report period (about 0.5 s), the others totals."""
    rows = [
        {
            N_("service"): r["name"],
            N_("state"): r["state"],
            N_("device"): r["device"],
            N_("pid"): r["pid"],
            N_("uptime"): r["uptime"],
            N_("restarts"): r["restarts"],
            N_("cameras"): r["clients"],
            N_("queue"): r["queue_len"],
            N_("queue max"): r["queue_max"],
            N_("batch mean"): round(r["batch_mean"], 1),
            N_("batch max"): r["batch_max"],
            N_("inference ms"): round(r["inference_ms"], 1),
            N_("requests"): r["requests"],
            N_("dropped"): r["dropped"],
            N_("failed"): r["failed"],
            N_("video windows"): r.get("videos", 0),  # the violence verifier's looks
            N_("video ms"): round(r.get("video_ms", 0.0), 1),
            N_("cpu %"): round(r["cpu_percent"], 1),
            N_("memory MiB"): round(r["rss_mib"]),
            N_("models"): r["models"],
        }
        for r in records
    ]
    return pd.DataFrame(rows)


def origin_label(origin: str) -> str:
    """A choice of the log's origins as the page shows it, in the language in effect:
    `all`, `manager`, `camera:<id>`, `inference:<n>` (the id and number as they are)."""
    label = ORIGIN_LABELS.get(origin)
    if label:
        return _(label)
    if origin.startswith(CAMERA_PREFIX):
        return _("camera:{camera}").format(camera=origin.removeprefix(CAMERA_PREFIX))
    if origin.startswith(SERVICE_PREFIX):
        return _("inference:{number}").format(number=origin.removeprefix(SERVICE_PREFIX))
    return origin


def shown_table(table: pd.DataFrame) -> pd.DataFrame:
    """A workers or services table as the page shows it: its headings and states in the
    language in effect (the table itself keeps the English names the charts use)."""
    shown = table.copy()
    if "state" in shown.columns:
        shown["state"] = [_(STATE_LABELS[s]) if s in STATE_LABELS else s for s in shown["state"]]
    return shown.rename(columns=lambda column: _(str(column)))
