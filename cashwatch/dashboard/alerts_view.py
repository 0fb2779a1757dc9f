"""The alert targets and suspensions as the dashboard shows them (no Streamlit here: the
System page and the Overview draw what these build)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cashwatch.alerts.state import TargetState
from cashwatch.alerts.summary import local_time, status_word
from cashwatch.i18n import N_, _
from cashwatch.util.redact import mask_credentials

# The Overview's choices for silencing a camera's alerts (label -> seconds), within
# cashwatch.alerts.state's SUSPEND_MIN_S..SUSPEND_MAX_S. The labels are the choices'
# values; `_(label)` shows one in the language in effect.
SUSPEND_CHOICES: dict[str, float] = {
    N_("5 min"): 300.0,
    N_("15 min"): 900.0,
    N_("30 min"): 1800.0,
    N_("1 h"): 3600.0,
    N_("4 h"): 4 * 3600.0,
    N_("24 h"): 24 * 3600.0,
}
NO_TARGETS_HINT = N_(
    "No alert targets: add `[[alerts]]` entries to the config to send events to a "
    "webhook, an MQTT broker or e-mail (see docs/alerts.md)."
)
# the table's headings, in the language in effect when it is built
TABLE_COLUMNS = (
    N_("name"),
    N_("kind"),
    N_("pending"),
    N_("sent"),
    N_("failed"),
    N_("status"),
    N_("last error"),
    N_("last sent"),
)
# status_word's words as the table shows them
STATUS_LABELS = {"failing": N_("failing"), "ok": N_("ok")}


def targets_table(states: Sequence[TargetState], now: float | None = None) -> pd.DataFrame:
    """One row per target: its counts, ok or failing, its last error, when it last took
    an alert (local time). Headings and the status in the language in effect."""
    rows = [
        (
            s.name,
            s.kind,
            s.pending,
            s.sent_total,
            s.failed_total,
            _(STATUS_LABELS.get(status_word(s), status_word(s))),
            mask_credentials(s.last_error),
            local_time(s.last_sent_ts, now),
        )
        for s in states
    ]
    return pd.DataFrame(rows, columns=[_(column) for column in TABLE_COLUMNS])


def failing_line(state: TargetState, with_error: bool) -> str:
    """What the System page says of a failing target, for an operator to act on."""
    if state.failing_since_ts > 0:
        line = _("Alert target {name} ({kind}) is failing since {time}")
    else:
        line = _("Alert target {name} ({kind}) is failing")
    line = line.format(name=state.name, kind=state.kind, time=local_time(state.failing_since_ts))
    if with_error and state.last_error:
        line += f": {mask_credentials(state.last_error)}"
    return line


def suspended_text(until: float, now: float | None = None) -> str:
    """`Alerts suspended until 14:35` (a date too when it ends on another day)."""
    return _("Alerts suspended until {time}").format(time=local_time(until, now))
