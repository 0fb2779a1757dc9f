"""One alert as every target gets it, whatever carries it (HTTP, MQTT, e-mail).

An alert is the start or the end of an event (or of a camera's trouble, `camera_down`),
a notice (something found about an event afterwards, with no end: a cash hand-over
with no sale behind it, `cash_unmatched`), or a test. `alert_id` is unique per event
and phase and is the same on every retry and after a manager restart, so a receiver
that got it twice can drop the second.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from cashwatch.core.event_types import EVENT_TYPE_TABLE
from cashwatch.i18n import N_, _, format_datetime

Phase = Literal["start", "end", "notice", "test"]
PHASES: tuple[str, ...] = ("start", "end", "notice", "test")
_LABELS = {
    "camera_down": N_("Camera down"),
    "cash_unmatched": N_("Cash hand-over with no sale rung up"),
    "test": N_("Test alert"),
}


def iso(ts: float | None) -> str | None:
    """`2026-12-06T23:05:20.123+09:00`: local time with its offset, or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="milliseconds")


def type_label(event_type: str) -> str:
    """A person's name for the type, in the language in effect: `Violence`, `Camera down`
    (a type with no name of its own: its id in words, untranslated)."""
    info = EVENT_TYPE_TABLE.get(event_type)
    if info is not None:
        return _(info.label)
    if event_type in _LABELS:
        return _(_LABELS[event_type])
    return event_type.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Alert:
    """What is sent. Times are Unix seconds here and ISO strings in `to_json()`.

    Attributes:
        alert_id: `<event_id>:<phase>`; the receiver's key to drop duplicates.
        phase: `start` (new event), `end` (it is over), `notice` (found about an
            event afterwards; no end follows) or `test`.
        event_id: The event's id in the database (`camera_down` alerts have their own).
        camera_id: The camera's id in the config.
        camera_name: Its display name.
        site: Its site.
        event_type: cash, violence, fire, till_exception, camera_down, cash_unmatched
            or test (tamper goes as camera_down).
        started_at: When the event started.
        ended_at: When it ended (end alerts).
        confidence: The detector's confidence, 0..1 (None for camera_down and tests).
        details: The rule's own fields (tracks, boxes, reason …).
        snapshot_path: The annotated snapshot, relative to the data folder, if any.
        link: The event in the dashboard, when `[dashboard] public_url` is set.
        created_at: When the alert was made (queued), for its age in the outbox.
    """

    alert_id: str
    phase: Phase
    event_id: str
    camera_id: str
    camera_name: str
    site: str
    event_type: str
    started_at: float
    ended_at: float | None = None
    confidence: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    snapshot_path: str | None = None
    link: str | None = None
    created_at: float = field(default_factory=time.time)

    @property
    def title(self) -> str:
        """`Violence at Front desk (lobby), 2026-12-06 23:05:20` — or `ended` for an end:
        the alert in one line, in the language in effect (`cashwatch.i18n.speaking`)."""
        values = {
            "what": type_label(self.event_type),
            "camera": self.camera_name or self.camera_id,
            "site": self.site,
            "when": format_datetime(self.started_at),
        }
        if self.phase == "end":
            if self.site:
                return _("{what} ended at {camera} ({site}), {when}").format(**values)
            return _("{what} ended at {camera}, {when}").format(**values)
        if self.site:
            return _("{what} at {camera} ({site}), {when}").format(**values)
        return _("{what} at {camera}, {when}").format(**values)

    def to_json(self) -> dict[str, Any]:
        """The body receivers get: the fields with ISO times (no snapshot path: the
        snapshot travels itself)."""
        body = dataclasses.asdict(self)
        body.pop("snapshot_path")
        body.pop("created_at")
        body["started_at"] = iso(self.started_at)
        body["ended_at"] = iso(self.ended_at)
        body["has_snapshot"] = self.snapshot_path is not None
        return body

    def to_record(self) -> dict[str, Any]:
        """Everything, as stored in the outbox (Unix times kept exact)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Alert:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in record.items() if key in names}
        if values.get("phase") not in PHASES:
            raise ValueError(f"alert phase {values.get('phase')!r}; valid: {', '.join(PHASES)}")
        return cls(**values)
