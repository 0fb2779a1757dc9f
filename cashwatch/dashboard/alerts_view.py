"""The alert targets and suspensions as the dashboard shows them (no Streamlit here: the
System page and the Overview draw what these build)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cashwatch.alerts.state import TargetState
from cashwatch.alerts.summary import local_time, status_word
from cashwatch.util.redact import mask_credentials

# The Overview's choices for silencing a camera's alerts (label -> seconds), within
# cashwatch.alerts.state's SUSPEND_MIN_S..SUSPEND_MAX_S.
SUSPEND_CHOICES: dict[str, float] = {
    "5 min": 300.0,
    "15 min": 900.0,
    "30 min": 1800.0,
    "1 h": 3600.0,
    "4 h": 4 * 3600.0,
    "24 h": 24 * 3600.0,
}
NO_TARGETS_HINT = (
    "No alert targets: add `[[alerts]]` entries to the config to send events to a "
    "webhook, an MQTT broker or e-mail (see docs/alerts.md)."
)
TABLE_COLUMNS = (
    "name",
    "kind",
    "pending",
    "sent",
    "failed",
    "status",
    "last error",
    "last sent",
)


def targets_table(states: Sequence[TargetState], now: float | None = None) -> pd.DataFrame:
    """One row per target: its counts, ok or failing, its last error, when it last took
    an alert (local time)."""
    rows = [
        {
            "name": s.name,
            "kind": s.kind,
            "pending": s.pending,
            "sent": s.sent_total,
            "failed": s.failed_total,
            "status": status_word(s),
            "last error": mask_credentials(s.last_error),
            "last sent": local_time(s.last_sent_ts, now),
        }
        for s in states
    ]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def failing_line(state: TargetState, with_error: bool) -> str:
    """What the System page says of a failing target, for an operator to act on."""
    line = f"Alert target {state.name} ({state.kind}) is failing"
    if state.failing_since_ts > 0:
        line += f" since {local_time(state.failing_since_ts)}"
    if with_error and state.last_error:
        line += f": {mask_credentials(state.last_error)}"
    return line


def suspended_text(until: float, now: float | None = None) -> str:
    """`Alerts suspended until 14:35` (a date too when it ends on another day)."""
    return f"Alerts suspended until {local_time(until, now)}"
