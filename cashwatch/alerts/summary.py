"""The alert targets as the CLI and the dashboard show them: the configured ones joined
with what the manager says of them (`state.json`), their filters in short, local times.

Pure functions: the callers read the files and draw. Texts come in the language in
effect (the CLI's, the dashboard session's); `status_word` is a value, translated
where it is shown.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from cashwatch.alerts.state import TargetState
from cashwatch.config.alerts import AlertFilter, EmailTarget, MqttTarget, WebhookTarget
from cashwatch.i18n import N_, _, format_date, format_time

Target = WebhookTarget | MqttTarget | EmailTarget

# The manager rewrites state.json every few seconds: older than this, none is sending.
STATE_STALE_S = 30.0


def joined_states(targets: Sequence[Target], states: Sequence[TargetState]) -> list[TargetState]:
    """Each configured target with the manager's state of it (zeros until it has one),
    then the targets the manager still reports that the file no longer names (it keeps
    its last good config while the file is being edited).

    >>> mqtt = MqttTarget(name="b", kind="mqtt", host="broker")
    >>> [s.name for s in joined_states([mqtt], [TargetState("a", "webhook")])]
    ['b', 'a']
    """
    by_name = {state.name: state for state in states}
    joined = [by_name.pop(t.name, TargetState(name=t.name, kind=t.kind)) for t in targets]
    return joined + list(by_name.values())


def status_word(state: TargetState) -> str:
    """`failing` or `ok`, as every view says it: a value (the CLI's JSON holds it), in
    English; a view shows `_(status_word(state))`."""
    return N_("failing") if state.failing else N_("ok")


def filters_text(target: AlertFilter) -> str:
    """A target's filters in one short line.

    >>> filters_text(AlertFilter(name="x", types=["cash"], min_confidence=0.5, cooldown_s=60))
    'types cash · conf >= 0.50 · cooldown 60 s'
    >>> filters_text(AlertFilter(name="x"))
    'all events'
    """
    parts = [
        _(label).format(values=",".join(values))
        for label, values in (
            (N_("types {values}"), target.types),
            (N_("sites {values}"), target.sites),
            (N_("cameras {values}"), target.cameras),
        )
        if values
    ]
    if target.min_confidence > 0:
        parts.append(_("conf >= {confidence}").format(confidence=f"{target.min_confidence:.2f}"))
    # the default cooldown on every line would hide the filters that differ
    if target.cooldown_s != AlertFilter.model_fields["cooldown_s"].default:
        parts.append(_("cooldown {seconds} s").format(seconds=f"{target.cooldown_s:g}"))
    return " · ".join(parts) or _("all events")


def local_time(ts: float, now: float | None = None) -> str:
    """`14:35` today, `2026-12-07 14:35` on another day, `–` for never (0); as the
    language in effect writes them (Korean: `오후 2:35`, `2026. 12. 7. 오후 2:35`)."""
    if ts <= 0:
        return "–"
    now = time.time() if now is None else now
    when, today = time.localtime(ts), time.localtime(now)
    if when[:3] == today[:3]:
        return format_time(ts, seconds=False)
    return f"{format_date(ts)} {format_time(ts, seconds=False)}"


def stale_note(written_at: float, now: float | None = None) -> str:
    """Why the targets' numbers may be old ("" when the manager wrote them lately)."""
    if written_at <= 0:
        return _("no manager has written the alert state yet: the numbers are not live")
    age = (time.time() if now is None else now) - written_at
    if age <= STATE_STALE_S:
        return ""
    return _("no manager has written the alert state for {seconds} s: the numbers are old").format(
        seconds=f"{age:.0f}"
    )
