"""Reading the live state of an installation, for the CLI and the dashboard."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil

from cashwatch.shm.status import StatusLayoutError, StatusTable

MANAGER_STALE_S = 5.0
# A running camera's note while its view is tampered with (the worker's `last_error`):
# frames still flow, so the state stays "running"; the dashboard shows the note as trouble.
TAMPERED_NOTE = "view tampered with"


def tampered_note(reason: str, since_ts: float) -> str:
    """`view tampered with: covered since 14:02:11`, in the worker's local time.

    >>> tampered_note("covered", 0.0).startswith(TAMPERED_NOTE + ": covered since ")
    True
    """
    return f"{TAMPERED_NOTE}: {reason} since {time.strftime('%H:%M:%S', time.localtime(since_ts))}"


class ManagerNotRunning(Exception):
    pass


def format_uptime(seconds: float) -> str:
    """`HH:MM:SS`; hours keep counting past a day."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def manager_alive(header: dict[str, Any], now: float | None = None) -> bool:
    now = time.time() if now is None else now
    pid = int(header.get("manager_pid") or 0)
    fresh = now - float(header.get("manager_heartbeat_ts") or 0.0) < MANAGER_STALE_S
    return pid > 0 and fresh and psutil.pid_exists(pid)


def read_status(data_dir: Path) -> dict[str, Any]:
    """`{"manager": {...}, "workers": {camera_id: {...fields, running, uptime}}}`.

    Raises ManagerNotRunning when no manager runs for this data_dir.
    """
    try:
        table = StatusTable.attach(data_dir)
    except StatusLayoutError as exc:
        raise ManagerNotRunning(f"cannot read the manager's status for {data_dir}: {exc}") from None
    except FileNotFoundError:
        raise ManagerNotRunning(f"no manager is running for {data_dir} "
                                "(start it with `cashwatch run`)") from None
    try:
        header = table.read_header()
        if not manager_alive(header):
            raise ManagerNotRunning(f"the manager for {data_dir} (pid {header['manager_pid']}) "
                                    "is not running")
        workers = table.read_all()
    finally:
        table.close()
    now = time.time()
    for record in workers.values():
        record["status"] = record["state"]  # the name the CLI's JSON documents
        running = record["state"] == "running" and record["pid"] > 0
        record["running"] = running
        record["uptime"] = format_uptime(now - record["start_ts"]) if running else "00:00:00"
    return {"manager": header, "workers": workers}
