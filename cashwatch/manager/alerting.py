"""The manager's side of alerting: the AlertService made from the config, and each
call into it guarded, so that a fault in alerting (an unreadable outbox, a bug) is
logged and retried and never stops the cameras or the event store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from cashwatch.alerts.routing import CameraRef
from cashwatch.alerts.service import AlertService, AlertSettings, CameraView
from cashwatch.alerts.state import SUSPEND_MAX_S
from cashwatch.config import LoadedConfig
from cashwatch.config.alerts import ALERT_TYPES, CAMERA_DOWN, with_language
from cashwatch.manager.supervisor import MonitoredWorker
from cashwatch.manager.till_exceptions import on_till
from cashwatch.shm.status import CameraStatus
from cashwatch.status import last_error

__all__ = ["CameraView", "camera_views", "configure", "open_alerts", "publish", "step", "suspend"]

log = logging.getLogger("cashwatch.manager")
_ERROR_EVERY_S = 60.0
_last_error = [0.0]


def settings_of(loaded: LoadedConfig, previous: AlertSettings | None = None) -> AlertSettings:
    """The alert settings of a config; a target the reload rejected keeps its last good
    settings (as a camera does): a typo while editing it must not lose its alerts."""
    app = loaded.app
    # a target naming no language writes its texts in the dashboard's
    targets = [with_language(t, app.dashboard.language) for t in app.alerts]
    names = {t.name for t in targets}
    for target in previous.targets if previous is not None else ():
        if target.name not in names and target.name in loaded.alert_errors:
            log.warning(
                "alert target %s: config rejected, keeping its last good settings", target.name
            )
            targets.append(target)
    return AlertSettings(tuple(targets), app.alerting, app.dashboard.public_url)


def open_alerts(loaded: LoadedConfig) -> AlertService | None:
    """The service, or None when it cannot start (said in the log; cameras run)."""
    try:
        return AlertService(loaded.data_dir, settings_of(loaded))
    except Exception:
        log.exception("alerting could not start; events are stored but no alerts are sent")
        return None


def _guarded(what: str, call: Any, *args: Any) -> None:
    try:
        call(*args)
    except Exception:
        now = time.monotonic()
        if now - _last_error[0] >= _ERROR_EVERY_S:  # a fault that repeats every pass
            _last_error[0] = now
            log.exception("alerting: %s failed; retried on the next pass", what)


def step(alerts: AlertService | None, cameras: Mapping[str, CameraView]) -> None:
    if alerts is not None:
        _guarded("reading new events", alerts.step, cameras)


def publish(alerts: AlertService | None) -> None:
    if alerts is not None:
        _guarded("publishing its state", alerts.publish)


def configure(alerts: AlertService | None, loaded: LoadedConfig) -> None:
    if alerts is not None:
        settings = settings_of(loaded, alerts.settings)
        _guarded("applying the reloaded config", alerts.configure, settings)


def suspend(alerts: AlertService | None, request: dict[str, Any], loaded: LoadedConfig) -> None:
    """A `suspend_alerts` request: checked here, where it arrives from a file."""
    camera_id, until = request.get("camera_id"), request.get("until")
    if alerts is None or camera_id not in loaded.cameras or not isinstance(until, int | float):
        log.warning("ignored alert suspension %r (unknown camera or no `until`)", request)
        return
    until = min(float(until), time.time() + SUSPEND_MAX_S)
    _guarded("suspending a camera", alerts.suspend, camera_id, until)


def camera_views(
    workers: Iterable[MonitoredWorker], records: Mapping[str, CameraStatus | None]
) -> dict[str, CameraView]:
    views = {}
    for worker in workers:
        camera = worker.camera
        record = records.get(camera.id)
        detection = camera.detection
        # the types with an ON/OFF state (a notice has none); a camera on a till also
        # raises its till's exceptions
        types = [
            name
            for name in ALERT_TYPES
            if getattr(getattr(detection, name, None), "enabled", False)
            or (name == "till_exception" and on_till(camera))
        ]
        views[camera.id] = CameraView(
            camera_id=camera.id,
            ref=CameraRef(camera.display_name, camera.site),
            event_types=(*types, CAMERA_DOWN),
            enabled=camera.enabled,
            state=record.state if record is not None else "starting",
            reason=last_error(record) if record is not None else "",
        )
    return views
