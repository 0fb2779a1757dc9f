"""The kinds of alert target: webhook, MQTT, e-mail.

`make_sender(target)` gives the sender for an `[[alerts]]` entry; the dispatcher knows
senders only through `base.Sender` (and `base.StatusPublisher`, which MQTT also is).
"""

from __future__ import annotations

from cashwatch.alerts.senders.base import CameraInfo, Sender, SendError, StatusPublisher
from cashwatch.alerts.senders.email import EmailSender
from cashwatch.alerts.senders.mqtt import MqttSender
from cashwatch.alerts.senders.webhook import WebhookSender
from cashwatch.config.alerts import EmailTarget, MqttTarget, WebhookTarget

__all__ = [
    "CameraInfo",
    "EmailSender",
    "MqttSender",
    "SendError",
    "Sender",
    "StatusPublisher",
    "WebhookSender",
    "make_sender",
]


def make_sender(target: WebhookTarget | MqttTarget | EmailTarget) -> Sender:
    """The sender for one target, chosen by its `kind`.

    Nothing connects yet: MQTT opens its connection on first use, the others per send.

    Args:
        target: An `[[alerts]]` entry.

    Returns:
        A `WebhookSender`, `MqttSender` (also a `StatusPublisher`) or `EmailSender`.
    """
    if isinstance(target, WebhookTarget):
        return WebhookSender(target)
    if isinstance(target, MqttTarget):
        return MqttSender(target)
    if isinstance(target, EmailTarget):
        return EmailSender(target)
    raise TypeError(f"no sender for alert target kind {getattr(target, 'kind', target)!r}")
