"""MQTT alerts and live camera state, with Home Assistant discovery (paho-mqtt 2.x).

Topics (PREFIX is the target's `topic_prefix`):

* `PREFIX/events`: every alert's JSON (`Alert.to_json()`), QoS 1, not retained;
* `PREFIX/<camera>/<type>`: `ON` while an event of that type is on, `OFF` after (retained);
* `PREFIX/<camera>/snapshot`: the latest event's snapshot JPEG (retained);
* `PREFIX/<camera>/status`: the camera's state, running, reconnecting … (retained);
* `PREFIX/available`: `online` while the manager is connected, `offline` after it closes
  or (the broker's last will) after its connection drops (retained).

One connection per target, opened on first use and kept open by paho's network thread,
which reconnects by itself; each (re)connect republishes `online`, the discovery
messages and the cameras' states, since a broker without persistence forgets them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from cashwatch.alerts.message import Alert, type_label
from cashwatch.alerts.senders.base import CameraInfo, SendError
from cashwatch.config.alerts import CAMERA_DOWN, MissingSecret, MqttTarget
from cashwatch.i18n import DEFAULT, _, speaking

log = logging.getLogger(__name__)

ON, OFF = "ON", "OFF"
ONLINE, OFFLINE = "online", "offline"
KEEPALIVE_S = 30
# Home Assistant binary_sensor device classes: how each type shows (icon, "Detected"/
# "Problem" wording). Cash hand-overs are routine, so they get the plain on/off.
DEVICE_CLASSES: dict[str, str | None] = {
    "fire": "smoke",
    "violence": "safety",
    "cash": None,
    "tamper": "problem",
    CAMERA_DOWN: "problem",
}


def discovery_messages(
    cameras: list[CameraInfo], prefix: str, discovery_prefix: str
) -> dict[str, dict[str, Any]]:
    """Home Assistant's MQTT discovery configs for the cameras, by config topic.

    Each camera is one HA device with a binary sensor per event type it can raise, an
    image entity (the latest snapshot) and a status sensor. The entities' names (what
    Home Assistant shows) are in the language in effect; ids, topics and payloads are
    the same in every language.

    Args:
        cameras: The cameras announced.
        prefix: The target's topic prefix.
        discovery_prefix: Home Assistant's discovery prefix (`homeassistant`).

    Returns:
        `{config topic: config}`; publish each retained as JSON.
    """
    availability = {
        "availability_topic": f"{prefix}/available",
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
    }
    configs: dict[str, dict[str, Any]] = {}
    for camera in cameras:
        cam = camera.camera_id
        device: dict[str, Any] = {
            "identifiers": [f"cashwatch_{cam}"],
            "name": camera.name or cam,
            "manufacturer": "CashWatch",
        }
        if camera.site:
            device["suggested_area"] = camera.site
        for event_type in camera.event_types:
            uid = f"cashwatch_{cam}_{event_type}"
            config: dict[str, Any] = {
                "name": type_label(event_type),
                "unique_id": uid,
                "state_topic": f"{prefix}/{cam}/{event_type}",
                "payload_on": ON,
                "payload_off": OFF,
                **availability,
                "device": device,
            }
            device_class = DEVICE_CLASSES.get(event_type)
            if device_class is not None:
                config["device_class"] = device_class
            configs[f"{discovery_prefix}/binary_sensor/{uid}/config"] = config
        uid = f"cashwatch_{cam}_snapshot"
        configs[f"{discovery_prefix}/image/{uid}/config"] = {
            "name": _("Snapshot"),
            "unique_id": uid,
            "image_topic": f"{prefix}/{cam}/snapshot",
            "content_type": "image/jpeg",
            **availability,
            "device": device,
        }
        uid = f"cashwatch_{cam}_status"
        configs[f"{discovery_prefix}/sensor/{uid}/config"] = {
            "name": _("Status"),
            "unique_id": uid,
            "state_topic": f"{prefix}/{cam}/status",
            **availability,
            "device": device,
        }
    return configs


class MqttSender:
    """Publishes alerts, the cameras' states and their Home Assistant discovery.

    Implements both `Sender` and `StatusPublisher`. `send` waits until the broker
    acknowledged every QoS-1 message of the alert; `announce` and `publish_state` are
    best effort (published now when connected, and again on each reconnect).

    Args:
        target: The `[[alerts]]` entry (kind "mqtt").
        connect_wait_s: How long `send` waits for a connection that is not up (the
            first one, or a reconnect) before failing.
        publish_timeout_s: How long `send` waits for the broker's acknowledgements.
        reconnect_max_s: The longest pause between reconnection attempts (they start
            at 1 s and double).
    """

    def __init__(
        self,
        target: MqttTarget,
        *,
        connect_wait_s: float = 5.0,
        publish_timeout_s: float = 10.0,
        reconnect_max_s: float = 30.0,
        presence: bool = True,
    ) -> None:
        """`presence`: this connection speaks for the installation (`available`, its last
        will); off for a one-off test message, which must not mark the running manager
        offline when it disconnects."""
        self.name = target.name
        self._presence = presence
        self._target = target
        self._prefix = target.topic_prefix
        self._where = f"{target.host}:{target.port}"
        self._connect_wait_s = connect_wait_s
        self._publish_timeout_s = publish_timeout_s
        self._reconnect_max_s = reconnect_max_s
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._client: mqtt.Client | None = None
        self._closed = False
        self._last_refusal: str | None = None
        self._discovery: dict[str, dict[str, Any]] = {}
        self._stale_discovery: set[str] = set()  # configs of cameras gone: to be emptied
        self._states: dict[str, str] = {}

    @property
    def connected(self) -> bool:
        """Whether the connection to the broker is up now."""
        return self._connected.is_set()

    # --- Sender -------------------------------------------------------------------------

    def send(self, alert: Alert, snapshot: bytes | None) -> None:
        """Publish the alert and wait for the broker to take it.

        Args:
            alert: The alert. Starts and ends also set `PREFIX/<camera>/<type>` ON or
                OFF; notices and tests go to `PREFIX/events` only.
            snapshot: The snapshot JPEG; with a start it becomes the camera's retained
                `PREFIX/<camera>/snapshot`.

        Raises:
            SendError: Not connected within `connect_wait_s`, or not acknowledged within
                `publish_timeout_s`. Sending again repeats the whole alert.
        """
        client = self._start()
        if not self._connected.wait(self._connect_wait_s):
            raise SendError(self._not_connected())
        messages: list[tuple[str, bytes | str, bool]] = []
        if alert.phase in ("start", "end"):  # a notice or a test has no state to set
            state_topic = f"{self._prefix}/{alert.camera_id}/{alert.event_type}"
            if alert.phase == "start" and snapshot is not None:
                # before ON, so whoever reacts to ON finds this event's picture
                messages.append((f"{self._prefix}/{alert.camera_id}/snapshot", snapshot, True))
            messages.append((state_topic, ON if alert.phase == "start" else OFF, True))
        messages.append((f"{self._prefix}/events", json.dumps(alert.to_json()), False))
        infos = [
            client.publish(topic, payload, qos=1, retain=retain)
            for topic, payload, retain in messages
        ]
        self._wait_acknowledged(infos)

    def close(self) -> None:
        """Publish `available` = offline, disconnect and stop the network thread."""
        with self._lock:
            client, self._client = self._client, None
            self._closed = True
        if client is None:
            return
        if self._connected.is_set() and self._presence:
            info = client.publish(f"{self._prefix}/available", OFFLINE, qos=1, retain=True)
            # going away anyway: on a line that drops now, the last will says offline
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2.0)
        client.disconnect()
        client.loop_stop()
        self._connected.clear()

    # --- StatusPublisher ----------------------------------------------------------------

    def announce(self, cameras: list[CameraInfo]) -> None:
        """Publish Home Assistant discovery for these cameras (none without a prefix).

        Cameras announced before and missing now get an empty retained config, which
        removes their entities from Home Assistant.

        Args:
            cameras: All the cameras there are now.
        """
        if not self._target.discovery_prefix:
            return
        with speaking(self._target.language or DEFAULT):  # the entities' names
            configs = discovery_messages(cameras, self._prefix, self._target.discovery_prefix)
        with self._lock:
            self._stale_discovery |= set(self._discovery) - set(configs)
            self._stale_discovery -= set(configs)
            self._discovery = configs
        client = self._start_quietly()
        if client is not None and self._connected.is_set():
            self._publish_discovery(client)

    def publish_state(self, camera_id: str, state: str) -> None:
        """Publish the camera's state, retained, at `PREFIX/<camera_id>/status`.

        Not queued while disconnected: the latest state is republished on reconnect.

        Args:
            camera_id: The camera.
            state: running, reconnecting, error, stopped …
        """
        with self._lock:
            self._states[camera_id] = state
        client = self._start_quietly()
        if client is not None and self._connected.is_set():
            client.publish(f"{self._prefix}/{camera_id}/status", state, qos=1, retain=True)

    # --- the connection -----------------------------------------------------------------

    def _start(self) -> mqtt.Client:
        """The client, created and its network thread started on first use."""
        with self._lock:
            if self._closed:
                raise SendError(f"MQTT target {self.name!r} is closed")
            if self._client is not None:
                return self._client
            try:
                password = self._target.secret_password()
            except MissingSecret as error:
                raise SendError(str(error)) from None
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=f"cashwatch-{self.name}-{uuid.uuid4().hex[:8]}",
                protocol=mqtt.MQTTv311,
                clean_session=True,
            )
            if self._target.username is not None:
                client.username_pw_set(self._target.username, password)
            if self._target.tls:
                client.tls_set()
            if self._presence:
                client.will_set(f"{self._prefix}/available", OFFLINE, qos=1, retain=True)
            client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(self._reconnect_max_s)))
            client.on_connect = self._on_connect
            client.on_disconnect = self._on_disconnect
            # connect_async: the network thread connects, and retries until it can
            client.connect_async(self._target.host, self._target.port, keepalive=KEEPALIVE_S)
            client.loop_start()
            self._client = client
            return client

    def _start_quietly(self) -> mqtt.Client | None:
        """`_start` for the best-effort calls: None (logged) instead of SendError."""
        try:
            return self._start()
        except SendError as error:
            log.warning("MQTT target %s: %s", self.name, error)
            return None

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        """On the network thread: republish what the broker may have forgotten."""
        if reason_code.is_failure:
            self._last_refusal = str(reason_code)
            log.warning("MQTT broker %s refused the connection: %s", self._where, reason_code)
            return
        self._last_refusal = None
        log.info("MQTT target %s connected to %s", self.name, self._where)
        # never wait for acknowledgements here: they arrive on this very thread
        if self._presence:
            client.publish(f"{self._prefix}/available", ONLINE, qos=1, retain=True)
        self._publish_discovery(client)
        with self._lock:
            states = dict(self._states)
        for camera_id, state in states.items():
            client.publish(f"{self._prefix}/{camera_id}/status", state, qos=1, retain=True)
        self._connected.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        """On the network thread: sends fail fast until the reconnect."""
        self._connected.clear()
        if not self._closed:
            log.warning("MQTT target %s lost %s (%s)", self.name, self._where, reason_code)

    def _publish_discovery(self, client: mqtt.Client) -> None:
        """Publish the discovery configs, and empty the stale ones (retained)."""
        with self._lock:
            stale, self._stale_discovery = self._stale_discovery, set()
            configs = dict(self._discovery)
        for topic in sorted(stale):
            client.publish(topic, b"", qos=1, retain=True)
        for topic, config in configs.items():
            client.publish(topic, json.dumps(config), qos=1, retain=True)

    def _wait_acknowledged(self, infos: list[mqtt.MQTTMessageInfo]) -> None:
        """Wait for the broker's PUBACKs; SendError on a drop or after the timeout.

        Polls in short slices because paho never wakes a waiter when the connection
        drops: without the check a send on a dead line would wait the full timeout.
        """
        deadline = time.monotonic() + self._publish_timeout_s
        for info in infos:
            try:
                while not info.is_published():
                    if not self._connected.is_set():
                        raise SendError(f"lost the connection to MQTT broker {self._where}")
                    if time.monotonic() > deadline:
                        raise SendError(
                            f"MQTT broker {self._where} did not acknowledge within "
                            f"{self._publish_timeout_s:g} s"
                        )
                    info.wait_for_publish(timeout=0.1)
            except (RuntimeError, ValueError) as error:
                raise SendError(f"MQTT publish to {self._where} failed: {error}") from None

    def _not_connected(self) -> str:
        """Why `send` has no connection, for the SendError."""
        reason = f": the broker refused it ({self._last_refusal})" if self._last_refusal else ""
        return f"not connected to MQTT broker {self._where}{reason}"
