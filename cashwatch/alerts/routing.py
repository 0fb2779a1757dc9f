"""Which targets get an alert: pure functions over the alert, the targets' filters, the
suspended cameras and the cooldown book. The dispatcher keeps the book; nothing here
does I/O, so every rule is tested on its own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cashwatch.alerts.message import Alert, Phase
from cashwatch.config.alerts import CAMERA_DOWN, CASH_UNMATCHED, TAMPER, AlertFilter

# Events whose start went out, remembered to route their end the same way; a bounded
# book (a site raises far fewer open events than this between their start and end).
OPEN_EVENTS_KEPT = 10_000


@dataclass(frozen=True)
class CameraRef:
    """What an alert says about its camera, from the config."""

    name: str
    site: str


def alert_type(event_type: str) -> str:
    """A tamper event is sent as `camera_down`: to the guard both mean the same."""
    return CAMERA_DOWN if event_type == TAMPER else event_type


def event_link(public_url: str, event_id: str) -> str | None:
    """The event on the dashboard's Events page, when its public address is known."""
    return f"{public_url}/events?event={event_id}" if public_url else None


def start_alert(
    source: str, record: Mapping[str, Any], camera: CameraRef | None, public_url: str
) -> Alert:
    """The alert for a journal's `event` line (`source`: the camera's journal folder)."""
    details = dict(record.get("details") or {})
    event_type = str(record.get("event_type") or "")
    if event_type == TAMPER:
        details.setdefault("reason", "view tampered with")
    return _record_alert(
        record, camera, public_url, ("start", alert_type(event_type), "start"), details, source
    )


def unmatched_alert(record: Mapping[str, Any], camera: CameraRef | None, public_url: str) -> Alert:
    """The notice for the tills' journal's `till_match` line saying `unmatched`."""
    details = {"till_id": record.get("till_id"), "till_match": "unmatched"}
    kind: tuple[Phase, str, str] = ("notice", CASH_UNMATCHED, "unmatched")
    return _record_alert(record, camera, public_url, kind, details)


def _record_alert(
    record: Mapping[str, Any],
    camera: CameraRef | None,
    public_url: str,
    kind: tuple[Phase, str, str],
    details: dict[str, Any],
    source: str = "",
) -> Alert:
    """An alert about the event a journal line names: `kind` is its phase, its type and
    what its id adds to the event's (`<event_id>:start`), `details` what it says."""
    event_id = str(record["event_id"])
    camera_id = str(record.get("camera_id") or source)
    confidence = record.get("confidence")
    phase, event_type, suffix = kind
    return Alert(
        alert_id=f"{event_id}:{suffix}",
        phase=phase,
        event_id=event_id,
        camera_id=camera_id,
        camera_name=camera.name if camera else camera_id,
        site=str(record.get("site") or (camera.site if camera else "")),
        event_type=event_type,
        started_at=float(record.get("started_at") or 0.0),
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        details=details,
        snapshot_path=record.get("snapshot_path") or None,
        link=event_link(public_url, event_id),
    )


def end_alert(source: str, record: Mapping[str, Any], start: Alert | None) -> Alert:
    """The alert for an `event_end` line; its start's fields when that is known."""
    event_id = str(record["event_id"])
    ended_at = float(record.get("ended_at") or 0.0)
    if start is None:  # its start went out before a manager restart
        return Alert(
            alert_id=f"{event_id}:end",
            phase="end",
            event_id=event_id,
            camera_id=source,
            camera_name=source,
            site="",
            event_type="",
            started_at=ended_at,
            ended_at=ended_at,
        )
    return Alert(
        alert_id=f"{event_id}:end",
        phase="end",
        event_id=event_id,
        camera_id=start.camera_id,
        camera_name=start.camera_name,
        site=start.site,
        event_type=start.event_type,
        started_at=start.started_at,
        ended_at=ended_at,
        confidence=start.confidence,
        details=start.details,
        link=start.link,
    )


def matches(target: AlertFilter, alert: Alert) -> bool:
    """The target's filters let the alert through (cooldown and suspension aside)."""
    if target.types and alert.event_type not in target.types:
        return False
    if target.sites and alert.site not in target.sites:
        return False
    if target.cameras and alert.camera_id not in target.cameras:
        return False
    if alert.event_type != CAMERA_DOWN and alert.confidence is not None:
        return alert.confidence >= target.min_confidence
    return True


@dataclass
class RoutingBook:
    """What routing remembers: each target's last alert per camera and type (its
    cooldown) and which targets got each open event's start (where its end goes)."""

    last_sent: dict[tuple[str, str, str], float] = field(default_factory=dict)
    open_events: OrderedDict[str, tuple[str, ...]] = field(default_factory=OrderedDict)


def route(
    alert: Alert,
    targets: Sequence[AlertFilter],
    suspended: Mapping[str, float],
    book: RoutingBook,
    now: float,
) -> list[str]:
    """The names of the targets that get `alert`; updates `book`.

    A start goes to each target whose filters match, unless the camera is suspended or
    the target's cooldown for this camera and type still runs. An end goes where its
    start went, and only there (when its start is not known, as after a restart, to the
    matching targets): a receiver that was told ON must be told OFF, also during a
    cooldown or a suspension, and one that was not told ON is not told OFF.
    """
    if alert.phase == "end":
        went = book.open_events.pop(alert.event_id, None)
        if went is not None:
            return [t.name for t in targets if t.name in went]
        if not alert.event_type:
            return []  # nothing known of it: its start went out before the last restart
        return [t.name for t in targets if matches(t, alert)]
    chosen: list[str] = []
    if suspended.get(alert.camera_id, 0.0) > now:
        targets = ()  # none: its end must not go out either
    for target in targets:
        key = (target.name, alert.camera_id, alert.event_type)
        if not matches(target, alert) or now - book.last_sent.get(key, -1e18) < target.cooldown_s:
            continue
        book.last_sent[key] = now
        chosen.append(target.name)
    if alert.phase == "notice":
        return chosen  # no end follows: nothing to remember for one
    # also when it went nowhere (filtered, cooling down, suspended): so does its end
    book.open_events[alert.event_id] = tuple(chosen)
    while len(book.open_events) > OPEN_EVENTS_KEPT:
        book.open_events.popitem(last=False)
    return chosen
