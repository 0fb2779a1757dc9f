"""Asking the running manager to do something it cannot learn from the config.

Start and stop are config edits (the `enabled` flag); restart is a request file the
manager picks up on its next loop and deletes. Files are written atomically, so the
manager never reads half a request.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from cashwatch.util.files import atomic_write_text

# restart: stop and start a camera's worker now. suspend_alerts: no alerts for a camera
# until `until` (Unix seconds; a past time lifts a suspension), kept by the manager in
# alerts/suspended.json.
Action = Literal["restart", "suspend_alerts"]
ACTIONS: tuple[str, ...] = ("restart", "suspend_alerts")


def requests_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "requests"


def submit_request(
    data_dir: Path, action: Action, camera_id: str, **fields: str | float | None
) -> Path:
    """Leave a request for the manager's next loop; `fields` are the action's own."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; valid: {', '.join(ACTIONS)}")
    folder = requests_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.time():.6f}-{uuid.uuid4().hex[:8]}.json"
    atomic_write_text(path, json.dumps({"action": action, "camera_id": camera_id, **fields}))
    return path


def take_requests(data_dir: Path) -> list[dict[str, Any]]:
    """Read and delete pending requests, oldest first; unreadable files are dropped."""
    folder = requests_dir(data_dir)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        with contextlib.suppress(OSError, ValueError):  # a torn or foreign file is dropped
            out.append(json.loads(path.read_text()))
        path.unlink(missing_ok=True)
    return out
