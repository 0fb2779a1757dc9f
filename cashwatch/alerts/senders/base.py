"""What every kind of target implements; the dispatcher knows nothing else of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cashwatch.alerts.message import Alert


class SendError(Exception):
    """The target did not take the alert (down, refused, timed out): retried later.

    The message says why in words an admin can act on, with no secret in it.
    """


@dataclass(frozen=True)
class CameraInfo:
    """A camera as status publishers announce it (MQTT's Home Assistant discovery)."""

    camera_id: str
    name: str
    site: str
    event_types: tuple[str, ...]  # the alert types this camera can raise


class Sender(Protocol):
    """Delivers alerts to one target. Called from that target's own thread only.

    `send` returns once the target has taken the alert, or raises SendError. It may be
    called again with the same alert after a failure (or after a manager restart that
    came between the send and its bookkeeping): receivers drop duplicates by alert_id.
    """

    name: str

    def send(self, alert: Alert, snapshot: bytes | None) -> None: ...

    def close(self) -> None: ...


class StatusPublisher(Protocol):
    """A sender that also keeps a live picture of the cameras (MQTT): their state and
    whether an event is on. Best effort: state is republished, never queued."""

    def announce(self, cameras: list[CameraInfo]) -> None:
        """The cameras there are now (discovery messages; called on start and reload)."""

    def publish_state(self, camera_id: str, state: str) -> None:
        """The camera's state: running, reconnecting, error, stopped …"""
