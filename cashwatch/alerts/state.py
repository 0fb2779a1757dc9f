"""What the manager says about its alert targets and suspended cameras, for readers.

The manager (the only writer) rewrites `alerts/state.json` atomically every 2 s (its
resource pass) and when it stops; the System page, the Overview and
`cashwatch status` read it. `alerts/suspended.json` holds the cameras whose alerts are
suspended and until when (Unix seconds); the manager writes it when it takes a
`suspend_alerts` request (cashwatch.manager.requests).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cashwatch.util.files import atomic_write_text

ALERTS_DIR = "alerts"
STATE_FILE = "state.json"
SUSPENDED_FILE = "suspended.json"
# Suspensions an operator may ask for: long enough for a drill, short enough that a
# forgotten one does not silence a camera for good.
SUSPEND_MIN_S = 60.0
SUSPEND_MAX_S = 24 * 3600.0


def alerts_dir(data_dir: Path) -> Path:
    return Path(data_dir) / ALERTS_DIR


@dataclass(frozen=True)
class TargetState:
    """One target as readers see it.

    Attributes:
        name: The target's name in the config.
        kind: webhook, mqtt or email.
        pending: Alerts queued for it and not yet taken.
        sent_total: Alerts it took since the manager started.
        failed_total: Tries that failed since the manager started.
        dropped_total: Alerts given up on (older than `[alerting] keep_hours`).
        consecutive_failures: Failed tries since the last success.
        failing: Failed `[alerting] failing_after` times in a row; still retried.
        last_error: Why the last try failed ("" after a success).
        last_sent_ts: When it last took an alert (0: never since the start).
        failing_since_ts: When the current run of failures began (0: none).
        next_try_ts: When it is tried next while failing (0: not waiting).
    """

    name: str
    kind: str
    pending: int = 0
    sent_total: int = 0
    failed_total: int = 0
    dropped_total: int = 0
    consecutive_failures: int = 0
    failing: bool = False
    last_error: str = ""
    last_sent_ts: float = 0.0
    failing_since_ts: float = 0.0
    next_try_ts: float = 0.0


def write_state(data_dir: Path, targets: list[TargetState]) -> None:
    folder = alerts_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    body = {"written_at": time.time(), "targets": [dataclasses.asdict(t) for t in targets]}
    atomic_write_text(folder / STATE_FILE, json.dumps(body, indent=1))


def read_state(data_dir: Path) -> tuple[float, list[TargetState]]:
    """(when the manager wrote it, the targets); (0, []) when there is none yet."""
    try:
        body = json.loads((alerts_dir(data_dir) / STATE_FILE).read_text(encoding="utf-8"))
        names = {f.name for f in dataclasses.fields(TargetState)}
        targets = [
            TargetState(**{k: v for k, v in raw.items() if k in names}) for raw in body["targets"]
        ]
        return float(body["written_at"]), targets
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0, []


def write_suspended(data_dir: Path, until: dict[str, float]) -> None:
    folder = alerts_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / SUSPENDED_FILE, json.dumps(until, sort_keys=True, indent=1))


def read_suspended(data_dir: Path, now: float | None = None) -> dict[str, float]:
    """Camera id -> until when its alerts are suspended; past suspensions left out."""
    now = time.time() if now is None else now
    try:
        raw: Any = json.loads((alerts_dir(data_dir) / SUSPENDED_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {
        str(camera): float(until)
        for camera, until in raw.items()
        if isinstance(until, int | float) and until > now
    }


def parse_duration(text: str) -> float:
    """`30m`, `2h`, `90s`, `1h30m` -> seconds, within SUSPEND_MIN_S..SUSPEND_MAX_S.

    >>> parse_duration("30m"), parse_duration("1h30m"), parse_duration("24h")
    (1800.0, 5400.0, 86400.0)
    """
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    total, number = 0.0, ""
    for char in text.strip().lower():
        if char.isdigit() or char == ".":
            number += char
        elif char in units and number:
            total += float(number) * units[char]
            number = ""
        else:
            number = "x"
            break
    if number or total <= 0:
        raise ValueError(f"duration {text!r}: write it like 30m, 2h, 1h30m or 90s")
    if not SUSPEND_MIN_S <= total <= SUSPEND_MAX_S:
        raise ValueError(f"duration {text!r}: suspend for 1 minute to 24 hours (e.g. 5m ... 24h)")
    return total
