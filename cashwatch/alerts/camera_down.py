"""`camera_down` alerts for a camera that lost its picture, from its status record.

A tamper event (view covered, turned away) is a journal event and reaches the alerts
through the feed; a camera with no picture at all raises no event, so its state is
watched here: reconnecting or in error for `[alerting] camera_down_after_s` raises
`camera_down`, and its picture coming back ends it. A camera stopped on purpose
(disabled, removed) is not down, and ends an alert it had.
"""

from __future__ import annotations

from dataclasses import dataclass

from cashwatch.alerts.message import Alert
from cashwatch.alerts.routing import CameraRef
from cashwatch.config.alerts import CAMERA_DOWN

DOWN_STATES = ("reconnecting", "error")


@dataclass(frozen=True)
class Trouble:
    """A camera's current run of no picture: since when, and whether it was alerted."""

    since: float
    alert: Alert | None = None  # the start alert, once raised


def step(
    camera_id: str,
    camera: CameraRef,
    state: str,
    reason: str,
    trouble: Trouble | None,
    now: float,
    after_s: float,
) -> tuple[Trouble | None, Alert | None]:
    """One look at a camera: its new trouble record, and the alert to raise, if any.

    >>> ref = CameraRef("Till", "lobby")
    >>> t, a = step("till", ref, "reconnecting", "no frames", None, 100.0, 30.0)
    >>> a is None and t.since == 100.0
    True
    >>> t, a = step("till", ref, "reconnecting", "no frames", t, 131.0, 30.0)
    >>> a.phase, a.event_type, a.details["reason"]
    ('start', 'camera_down', 'no frames')
    >>> t, a = step("till", ref, "running", "", t, 140.0, 30.0)
    >>> t is None and a.phase == "end" and a.ended_at == 140.0
    True
    """
    if state in DOWN_STATES:
        if trouble is None:
            return Trouble(since=now), None
        if trouble.alert is None and now - trouble.since >= after_s:
            alert = _down_alert(camera_id, camera, reason, trouble.since)
            return Trouble(trouble.since, alert), alert
        return trouble, None
    if trouble is not None and trouble.alert is not None:
        start = trouble.alert
        end = Alert(
            alert_id=f"{start.event_id}:end",
            phase="end",
            event_id=start.event_id,
            camera_id=camera_id,
            camera_name=start.camera_name,
            site=start.site,
            event_type=CAMERA_DOWN,
            started_at=start.started_at,
            ended_at=now,
            details={**start.details, "now": state},
        )
        return None, end
    return None, None


def _down_alert(camera_id: str, camera: CameraRef, reason: str, since: float) -> Alert:
    # the id names the camera and the moment its picture went: the same on every look,
    # and a new one for the next outage
    event_id = f"down-{camera_id}-{int(since * 1000)}"
    return Alert(
        alert_id=f"{event_id}:start",
        phase="start",
        event_id=event_id,
        camera_id=camera_id,
        camera_name=camera.name,
        site=camera.site,
        event_type=CAMERA_DOWN,
        started_at=since,
        details={"reason": reason or "no picture"},
    )
