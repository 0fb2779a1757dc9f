"""The manager's alerting: events and camera troubles in, queued per target, sent.

The manager's loop calls `step()` every pass: new event lines from the journals
(cashwatch.alerts.feed) and the cameras' states (cashwatch.alerts.camera_down) become
alerts, routing picks their targets (cashwatch.alerts.routing), and each goes in the
durable outbox before the feed moves on. One thread per target sends
(cashwatch.alerts.dispatch). Its state is published for readers every few seconds
(`alerts/state.json`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from cashwatch.alerts import camera_down
from cashwatch.alerts.dispatch import SenderFactory, TargetThread, default_sender
from cashwatch.alerts.feed import JournalFeed, JournalRecord
from cashwatch.alerts.message import Alert
from cashwatch.alerts.outbox import Outbox
from cashwatch.alerts.routing import CameraRef, RoutingBook, end_alert, route, start_alert
from cashwatch.alerts.senders.base import CameraInfo
from cashwatch.alerts.state import TargetState, read_suspended, write_state, write_suspended
from cashwatch.config.alerts import CAMERA_DOWN, AlertingConfig, AlertTarget

log = logging.getLogger(__name__)

STARTS_KEPT = 10_000  # start alerts remembered to fill in their ends


@dataclass(frozen=True)
class CameraView:
    """One camera as alerting sees it on a pass: config and current state."""

    camera_id: str
    ref: CameraRef
    event_types: tuple[str, ...]  # the alert types it can raise (discovery)
    enabled: bool
    state: str  # running, reconnecting, error, stopped …
    reason: str  # its last error, for a camera_down alert


@dataclass(frozen=True)
class AlertSettings:
    """The parts of the config alerting follows; compared on reload."""

    targets: tuple[AlertTarget, ...]
    alerting: AlertingConfig
    public_url: str


class AlertService:
    """Feed, route, queue and send; one per manager.

    >>> alerts = AlertService(data_dir, settings)   # doctest: +SKIP
    >>> alerts.step(cameras)                         # doctest: +SKIP
    >>> alerts.close()                               # doctest: +SKIP
    """

    def __init__(
        self, data_dir: Path, settings: AlertSettings, make: SenderFactory = default_sender
    ) -> None:
        self.data_dir = data_dir
        self.settings = settings
        self.make = make
        self.outbox = Outbox(data_dir)
        self.feed = JournalFeed(data_dir)
        self.book = RoutingBook()
        self.suspended = read_suspended(data_dir)
        self.events: Counter[tuple[str, str]] = Counter()  # (camera, type) since the start
        self._events_seen: dict[tuple[str, str], int] = {}  # a copy other threads may read
        self.threads: dict[str, TargetThread] = {}
        self._starts: dict[str, Alert] = {}
        self._troubles: dict[str, camera_down.Trouble] = {}
        self._cameras: dict[str, CameraView] = {}
        self._announced: tuple[CameraInfo, ...] = ()
        self._start_threads(settings)

    # the manager's loop ----------------------------------------------------------
    def step(self, cameras: Mapping[str, CameraView], now: float | None = None) -> None:
        """Queue the alerts of new journal lines and of cameras that lost their picture."""
        now = time.time() if now is None else now
        self._cameras = dict(cameras)
        records = self.feed.read()
        for item in records:
            self._queue(self._alert_of(item), now)
        self.feed.commit()  # only now: each alert read is in the outbox
        for camera in cameras.values():
            self._watch(camera, now)
        self._share_cameras(cameras)
        if self.events != self._events_seen:
            self._events_seen = dict(self.events)  # replaced whole: readers need no lock

    def event_counts(self) -> dict[tuple[str, str], int]:
        """Events (and camera_down alerts) per camera and type since the manager
        started; safe to call from another thread (the metrics server's)."""
        return self._events_seen

    def configure(self, settings: AlertSettings) -> None:
        """A reloaded config: targets added, changed or removed get their threads."""
        if settings == self.settings:
            return
        old = {t.name: t for t in self.settings.targets}
        new = {t.name: t for t in settings.targets}
        for name, thread in list(self.threads.items()):
            if new.get(name) != old.get(name) or settings.alerting != self.settings.alerting:
                thread.stop()
                thread.join(timeout=1.0)
                del self.threads[name]
        self.settings = settings
        self._start_threads(settings)
        self._announced = ()  # new threads announce the cameras again

    def suspend(self, camera_id: str, until: float) -> None:
        """No start alerts for `camera_id` until `until` (a past time lifts it)."""
        self.suspended = read_suspended(self.data_dir)
        if until > time.time():
            self.suspended[camera_id] = until
            log.info(
                "alerts of camera %s suspended until %s",
                camera_id,
                time.strftime("%Y-%m-%d %H:%M", time.localtime(until)),
            )
        else:
            self.suspended.pop(camera_id, None)
            log.info("alerts of camera %s resumed", camera_id)
        write_suspended(self.data_dir, self.suspended)

    def states(self) -> list[TargetState]:
        pending = self.outbox.pending_counts()
        out = []
        for target in self.settings.targets:
            thread = self.threads.get(target.name)
            state = thread.state if thread else TargetState(target.name, target.kind)
            out.append(replace(state, pending=pending.get(target.name, 0)))
        return out

    def publish(self) -> None:
        """`alerts/state.json` for the System page and `cashwatch status`."""
        try:
            write_state(self.data_dir, self.states())
        except OSError as exc:
            log.warning("cannot write the alert state for the dashboard: %s", exc)

    def close(self) -> None:
        for thread in self.threads.values():
            thread.stop()
        deadline = time.monotonic() + 5.0
        for thread in self.threads.values():
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        self.publish()
        self.outbox.close()

    # inside ------------------------------------------------------------------------
    def _start_threads(self, settings: AlertSettings) -> None:
        for target in settings.targets:
            if target.name in self.threads:
                continue
            thread = TargetThread(target, self.outbox, self.data_dir, settings.alerting, self.make)
            self.threads[target.name] = thread
            thread.start()

    def _alert_of(self, item: JournalRecord) -> Alert:
        record = item.record
        if record.get("kind") == "event":
            view = self._cameras.get(item.source)
            alert = start_alert(
                item.source, record, view.ref if view else None, self.settings.public_url
            )
            self.events[(alert.camera_id, str(record.get("event_type") or ""))] += 1
            self._starts[alert.event_id] = alert
            if len(self._starts) > STARTS_KEPT:
                self._starts.pop(next(iter(self._starts)))
            return alert
        return end_alert(item.source, record, self._starts.pop(str(record["event_id"]), None))

    def _queue(self, alert: Alert, now: float) -> None:
        for name in route(alert, self.settings.targets, self.suspended, self.book, now):
            if self.outbox.add(name, alert):
                self.threads[name].wake.set()

    def _watch(self, camera: CameraView, now: float) -> None:
        state = camera.state if camera.enabled else "stopped"
        trouble, alert = camera_down.step(
            camera.camera_id,
            camera.ref,
            state,
            camera.reason,
            self._troubles.get(camera.camera_id),
            now,
            self.settings.alerting.camera_down_after_s,
        )
        if trouble is None:
            self._troubles.pop(camera.camera_id, None)
        else:
            self._troubles[camera.camera_id] = trouble
        if alert is not None:
            if alert.phase == "start":
                self.events[(camera.camera_id, CAMERA_DOWN)] += 1
            self._queue(alert, now)

    def _share_cameras(self, cameras: Mapping[str, CameraView]) -> None:
        """The cameras and their states, to the threads that publish them (MQTT)."""
        infos = tuple(
            CameraInfo(c.camera_id, c.ref.name, c.ref.site, c.event_types) for c in cameras.values()
        )
        states = {c.camera_id: c.state if c.enabled else "stopped" for c in cameras.values()}
        for thread in self.threads.values():
            if infos != self._announced:
                thread.announce(list(infos))
            thread.camera_states(states)
        self._announced = infos
