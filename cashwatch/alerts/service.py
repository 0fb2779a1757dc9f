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
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from cashwatch.alerts import camera_down
from cashwatch.alerts.dispatch import SenderFactory, TargetThread, default_sender
from cashwatch.alerts.feed import JournalFeed, JournalRecord
from cashwatch.alerts.memory import load_open, save_open
from cashwatch.alerts.message import Alert
from cashwatch.alerts.outbox import Outbox
from cashwatch.alerts.routing import CameraRef, end_alert, route, start_alert, unmatched_alert
from cashwatch.alerts.senders.base import CameraInfo
from cashwatch.alerts.state import TargetState, read_suspended, write_state, write_suspended
from cashwatch.config.alerts import CAMERA_DOWN, AlertingConfig, AlertTarget

log = logging.getLogger(__name__)

ORPHAN_CHECK_S = 3600.0  # how often alerts of removed targets are checked for age


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
        self.memory = load_open(data_dir)
        self.suspended = read_suspended(data_dir)
        self._events_seen: dict[tuple[str, str], int] = {}  # a copy other threads may read
        self.threads: dict[str, TargetThread] = {}
        self._cameras: dict[str, CameraView] = {}
        self._announced: tuple[CameraInfo, ...] = ()
        self._next_orphan_check = 0.0
        self._start_threads(settings)

    # the manager's loop ----------------------------------------------------------
    def step(self, cameras: Mapping[str, CameraView], now: float | None = None) -> None:
        """Queue the alerts of new journal lines and of cameras that lost their picture."""
        now = time.time() if now is None else now
        self._cameras = dict(cameras)
        before = self.memory
        self.memory = before.copy()  # a pass that fails half-way leaves the memory as it was
        try:
            for item in self.feed.read():
                self._queue(self._alert_of(item), now)
            for camera in cameras.values():
                self._watch(camera, now)
            self._end_removed(cameras, now)
            if self.memory.book.open_events != before.book.open_events:
                save_open(self.data_dir, self.memory)
            self.feed.commit()  # only now: each alert read is in the outbox
        except BaseException:
            self.memory = before
            raise
        self._share_cameras(cameras)
        if self.memory.events != self._events_seen:
            self._events_seen = dict(self.memory.events)  # replaced whole: no lock needed
        if time.monotonic() >= self._next_orphan_check:
            self._next_orphan_check = time.monotonic() + ORPHAN_CHECK_S
            self._drop_old_orphans()

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
        replaced: dict[str, TargetThread] = {}
        for name, thread in list(self.threads.items()):
            if new.get(name) != old.get(name) or settings.alerting != self.settings.alerting:
                # not joined here: a send in flight may take its timeout, and the loop
                # must not wait; the new thread waits for it before its first send
                thread.stop()
                replaced[name] = self.threads.pop(name)
        self.settings = settings
        self._start_threads(settings, replaced)
        self._announced = ()  # new threads announce the cameras again
        self._next_orphan_check = 0.0

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
    def _start_threads(
        self, settings: AlertSettings, replaced: Mapping[str, TargetThread] | None = None
    ) -> None:
        for target in settings.targets:
            if target.name in self.threads:
                continue
            old = (replaced or {}).get(target.name)
            thread = TargetThread(
                target, self.outbox, self.data_dir, settings.alerting, self.make, after=old
            )
            self.threads[target.name] = thread
            thread.start()
        configured = {t.name for t in settings.targets}
        for name, count in self.outbox.pending_counts().items():
            if count and name not in configured:
                log.warning(
                    "%d alert(s) for target %r, which the config no longer names, wait in "
                    "the outbox: they go out if it comes back, and are dropped after "
                    "[alerting] keep_hours",
                    count,
                    name,
                )

    def _drop_old_orphans(self) -> None:
        """Alerts of targets no longer configured, older than keep_hours: dropped."""
        configured = {t.name for t in self.settings.targets}
        cutoff = time.time() - self.settings.alerting.keep_hours * 3600.0
        for name in self.outbox.pending_counts():
            if name not in configured:
                dropped = self.outbox.drop_older(name, cutoff)
                if dropped:
                    log.error("dropped %d unsent alert(s) of the removed target %r", dropped, name)

    def _end_removed(self, cameras: Mapping[str, CameraView], now: float) -> None:
        """A camera removed from the config while down: its camera_down ends."""
        for camera_id in [c for c in self.memory.troubles if c not in cameras]:
            trouble = self.memory.troubles.pop(camera_id)
            ref = CameraRef(camera_id, "")  # the end takes the start's names
            _, end = camera_down.step(camera_id, ref, "removed", "", trouble, now, 0.0)
            if end is not None:
                self.memory.starts.pop(end.event_id, None)
                self._queue(end, now)

    def _alert_of(self, item: JournalRecord) -> Alert:
        record = item.record
        # the tills' journal names its camera in each line; a camera's journal is its own
        view = self._cameras.get(str(record.get("camera_id") or item.source))
        if record.get("kind") == "till_match":  # an unmatched hand-over: a notice
            return unmatched_alert(record, view.ref if view else None, self.settings.public_url)
        if record.get("kind") == "event":
            alert = start_alert(
                item.source, record, view.ref if view else None, self.settings.public_url
            )
            self.memory.events[(alert.camera_id, str(record.get("event_type") or ""))] += 1
            self.memory.remember_start(alert)
            return alert
        start = self.memory.starts.pop(str(record["event_id"]), None)
        return end_alert(item.source, record, start)

    def _queue(self, alert: Alert, now: float) -> None:
        for name in route(alert, self.settings.targets, self.suspended, self.memory.book, now):
            if self.outbox.add(name, alert):
                self.threads[name].wake.set()

    def _watch(self, camera: CameraView, now: float) -> None:
        state = camera.state if camera.enabled else "stopped"
        trouble, alert = camera_down.step(
            camera.camera_id,
            camera.ref,
            state,
            camera.reason,
            self.memory.troubles.get(camera.camera_id),
            now,
            self.settings.alerting.camera_down_after_s,
        )
        if trouble is None:
            self.memory.troubles.pop(camera.camera_id, None)
        else:
            self.memory.troubles[camera.camera_id] = trouble
        if alert is not None:
            if alert.phase == "start":
                self.memory.events[(camera.camera_id, CAMERA_DOWN)] += 1
                self.memory.remember_start(alert)
            else:
                self.memory.starts.pop(alert.event_id, None)
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
