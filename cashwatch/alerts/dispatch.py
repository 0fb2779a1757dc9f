"""Sending what the outbox holds: one thread per target, so none waits for another.

A target that is down is retried after 1, 2, 4 … s (at most `[alerting] retry_max_s`)
and keeps its alerts in order: the next is tried only once the one before it is taken.
The cameras never wait for any of this (they only append to their journals), and the
manager's loop only appends to the outbox.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

from cashwatch.alerts.message import Alert
from cashwatch.alerts.outbox import Outbox
from cashwatch.alerts.senders.base import CameraInfo, Sender, SendError, StatusPublisher
from cashwatch.alerts.state import TargetState
from cashwatch.config.alerts import AlertingConfig, AlertTarget
from cashwatch.util.backoff import Backoff
from cashwatch.util.redact import mask_credentials

log = logging.getLogger(__name__)

SenderFactory = Callable[[AlertTarget], Sender]
IDLE_WAIT_S = 1.0  # a thread with nothing to send looks again this often (or when woken)
JOIN_S = 5.0


def default_sender(target: AlertTarget) -> Sender:
    from cashwatch.alerts.senders import make_sender

    return make_sender(target)


class TargetThread(threading.Thread):
    """Delivers one target's alerts, oldest first, until stopped.

    Attributes:
        target: The target's config.
        state: What readers see of it (replaced whole, read without a lock).
    """

    def __init__(
        self,
        target: AlertTarget,
        outbox: Outbox,
        data_dir: Path,
        settings: AlertingConfig,
        make: SenderFactory,
        after: TargetThread | None = None,
    ) -> None:
        """`after`: the thread this one replaces (a reloaded target): waited for before
        the first send, so the two never send one alert at once, and its counts go on."""
        super().__init__(name=f"alerts-{target.name}", daemon=True)
        self.target = target
        self.outbox = outbox
        self.data_dir = data_dir
        self.settings = settings
        self.make = make
        self.after = after
        self.state = TargetState(name=target.name, kind=target.kind)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._retry = Backoff(initial_s=1.0, max_s=settings.retry_max_s, jitter=0.1)
        self._next_try = 0.0  # monotonic
        self._sender: Sender | None = None
        self._cameras: list[CameraInfo] | None = None  # to announce (status publishers)
        self._camera_states: dict[str, str] = {}  # to publish
        self._published: dict[str, str] = {}
        self._lock = threading.Lock()

    # the manager's side ----------------------------------------------------------
    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def announce(self, cameras: list[CameraInfo]) -> None:
        with self._lock:
            self._cameras = cameras
        self.wake.set()

    def camera_states(self, states: dict[str, str]) -> None:
        with self._lock:
            changed = states != self._camera_states
            self._camera_states = dict(states)
        if changed:
            self.wake.set()

    # the thread ------------------------------------------------------------------
    def run(self) -> None:
        if self.after is not None:
            self.after.join()  # its send in flight ends within its timeout
            self.state = dataclasses.replace(
                self.after.state, name=self.target.name, kind=self.target.kind
            )
            self.after = None
        try:
            while not self.stopping.is_set():
                wait = self._one_round()
                if wait:
                    self.wake.wait(wait)
                    self.wake.clear()
        finally:
            self._close_sender()

    def _one_round(self) -> float:
        """Status, then one delivery; a fault of the outbox itself (a full disk when it
        marks an alert done) is this round's, not the thread's: it is said and retried."""
        try:
            self._publish_status()
            return self._deliver_one()
        except Exception as exc:
            delay = self._retry.next_delay()
            if self._retry.failures == 1:
                log.exception("alert target %s: the outbox failed; retrying", self.target.name)
            self.state = dataclasses.replace(
                self.state, last_error=f"outbox: {type(exc).__name__}: {exc}"
            )
            return delay

    def _deliver_one(self) -> float:
        """Try the head of the queue; returns how long to wait before the next look."""
        alert = self.outbox.head(self.target.name)
        if alert is None:
            return IDLE_WAIT_S
        delay = self._next_try - time.monotonic()
        if delay > 0:
            return min(delay, IDLE_WAIT_S)
        if time.time() - alert.created_at > self.settings.keep_hours * 3600.0:
            self._drop(alert)
            return 0.0
        try:
            self._sender_now().send(alert, self._snapshot(alert))
        except Exception as exc:  # SendError, or a sender's bug: the alert stays queued
            self._failed(alert, exc)
            return min(self._next_try - time.monotonic(), IDLE_WAIT_S)
        self.outbox.done(self.target.name, alert.alert_id, "sent")
        self._retry.reset()
        self._next_try = 0.0
        if self.state.failing:
            log.info("alert target %s takes alerts again", self.target.name)
        self.state = dataclasses.replace(
            self.state,
            sent_total=self.state.sent_total + 1,
            consecutive_failures=0,
            failing=False,
            last_error="",
            last_sent_ts=time.time(),
            failing_since_ts=0.0,
            next_try_ts=0.0,
        )
        return 0.0

    def _failed(self, alert: Alert, exc: Exception) -> None:
        reason = mask_credentials(str(exc) if isinstance(exc, SendError) else repr(exc))
        delay = self._retry.next_delay()
        self._next_try = time.monotonic() + delay
        failures = self.state.consecutive_failures + 1
        failing = failures >= self.settings.failing_after
        if not isinstance(exc, SendError):
            log.error("alert target %s: sender failed: %s", self.target.name, reason, exc_info=exc)
        elif failures == 1 or (failing and not self.state.failing):
            log.warning(
                "alert target %s: %s (alert %s; retrying in %.0f s%s)",
                self.target.name,
                reason,
                alert.alert_id,
                delay,
                ", now shown as failing" if failing else "",
            )
        self.state = dataclasses.replace(
            self.state,
            failed_total=self.state.failed_total + 1,
            consecutive_failures=failures,
            failing=failing,
            last_error=reason,
            failing_since_ts=self.state.failing_since_ts or time.time(),
            next_try_ts=time.time() + delay,
        )
        if not isinstance(exc, SendError):
            self._close_sender()  # a sender in an unknown state is made anew

    def _drop(self, alert: Alert) -> None:
        log.error(
            "alert target %s: alert %s dropped unsent after %.0f h ([alerting] keep_hours)",
            self.target.name,
            alert.alert_id,
            self.settings.keep_hours,
        )
        self.outbox.done(self.target.name, alert.alert_id, "dropped")
        self.state = dataclasses.replace(self.state, dropped_total=self.state.dropped_total + 1)

    def _snapshot(self, alert: Alert) -> bytes | None:
        if not alert.snapshot_path or alert.phase not in ("start", "notice"):
            return None
        try:
            return (self.data_dir / alert.snapshot_path).read_bytes()
        except OSError:  # expired, or not written: the alert goes without its picture
            return None

    def _sender_now(self) -> Sender:
        if self._sender is None:
            self._sender = self.make(self.target)
        return self._sender

    def _close_sender(self) -> None:
        sender, self._sender = self._sender, None
        if sender is None:
            return
        try:
            sender.close()
        except Exception:
            log.exception("alert target %s: closing its sender failed", self.target.name)

    def _publish_status(self) -> None:
        """Discovery and camera states, for a target that keeps them (MQTT): best
        effort, they are republished on every change and never queued."""
        if self.target.kind != "mqtt":
            return
        with self._lock:
            cameras, self._cameras = self._cameras, None
            states = dict(self._camera_states)
        changed = {cid: s for cid, s in states.items() if self._published.get(cid) != s}
        if cameras is None and not changed:
            return
        try:
            sender = cast(StatusPublisher, self._sender_now())  # the MQTT sender is one
            if cameras is not None:
                sender.announce(cameras)
            for camera_id, camera_state in changed.items():
                sender.publish_state(camera_id, camera_state)
                self._published[camera_id] = camera_state
        except Exception as exc:  # the broker is down: the alerts' retries say so
            log.debug("alert target %s: status not published: %s", self.target.name, exc)
            if cameras is not None:
                with self._lock:
                    self._cameras = self._cameras or cameras
