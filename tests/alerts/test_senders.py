"""The three kinds of alert target against real receivers on 127.0.0.1: an HTTP server,
aiosmtpd and Mosquitto (`tests.support.alert_receivers`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from paho.mqtt import publish as paho_publish
from paho.mqtt.client import topic_matches_sub

from cashwatch.alerts.message import Alert
from cashwatch.alerts.senders import (
    CameraInfo,
    EmailSender,
    MqttSender,
    SendError,
    WebhookSender,
    make_sender,
)
from cashwatch.config.alerts import EmailTarget, MqttTarget, WebhookTarget
from tests.support.alert_receivers import (
    HttpReceiver,
    MosquittoBroker,
    MqttSubscriber,
    SmtpReceiver,
)
from tests.support.rtsp import free_port, wait_until

SNAPSHOT = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"  # JPEG-framed bytes
PREFIX = "cw"
LINK = "https://cashwatch.example/events?event=ev1"


def make_alert(phase: str = "start", event_type: str = "violence", **fields: Any) -> Alert:
    values: dict[str, Any] = {
        "alert_id": f"ev1:{phase}",
        "phase": phase,
        "event_id": "ev1",
        "camera_id": "cam1",
        "camera_name": "Front desk",
        "site": "lobby",
        "event_type": event_type,
        "started_at": 1_790_000_000.0,
        "ended_at": 1_790_000_030.0 if phase == "end" else None,
        "confidence": 0.87,
        "snapshot_path": "snapshots/ev1.jpg",
        "link": LINK,
    }
    return Alert(**{**values, **fields})


# --- webhook ---------------------------------------------------------------------------------


def webhook(url: str, **fields: Any) -> WebhookSender:
    return WebhookSender(
        WebhookTarget.model_validate({"name": "hook", "kind": "webhook", "url": url, **fields})
    )


def test_webhook_posts_the_alert_as_signed_json_with_the_snapshot(
    http_receiver: HttpReceiver,
) -> None:
    sender = webhook(http_receiver.url + "/in", secret="k3y")
    sender.send(make_alert(), SNAPSHOT)

    [request] = http_receiver.received
    assert (request.method, request.path) == ("POST", "/in")
    assert request.header("Content-Type") == "application/json"
    assert request.header("X-CashWatch-Alert-Id") == "ev1:start"
    assert request.header("Idempotency-Key") == "ev1:start"
    expected = hmac.new(b"k3y", request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.header("X-CashWatch-Signature") or "", f"sha256={expected}")
    body = request.json()
    assert body["alert_id"] == "ev1:start" and body["event_type"] == "violence"
    assert body["link"] == LINK and body["has_snapshot"] is True
    assert base64.b64decode(body["snapshot_jpeg_base64"]) == SNAPSHOT


def test_webhook_without_key_or_snapshot_sends_no_signature_and_null(
    http_receiver: HttpReceiver,
) -> None:
    webhook(http_receiver.url).send(make_alert("test", event_type="test"), None)
    [request] = http_receiver.received
    assert request.header("X-CashWatch-Signature") is None
    assert request.json()["snapshot_jpeg_base64"] is None


def test_webhook_error_names_the_status_and_host_never_the_token(
    http_receiver: HttpReceiver,
) -> None:
    http_receiver.status_codes = [500]
    url = f"http://bob:pw0rd@127.0.0.1:{http_receiver.port}/hook/s3cret?token=s3cret"
    sender = webhook(url)
    with pytest.raises(SendError) as failure:
        sender.send(make_alert(), SNAPSHOT)
    message = str(failure.value)
    assert message == f"HTTP 500 from 127.0.0.1:{http_receiver.port}"
    assert "s3cret" not in message and "pw0rd" not in message
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    # the user part of the URL became Basic auth; the next answer (200) takes the alert
    sender.send(make_alert(), SNAPSHOT)
    request = http_receiver.received[-1]
    assert request.header("Authorization") == "Basic " + base64.b64encode(b"bob:pw0rd").decode()
    assert request.path == "/hook/s3cret?token=s3cret"


def test_webhook_does_not_follow_a_redirect(http_receiver: HttpReceiver) -> None:
    http_receiver.status_codes = [302]
    with pytest.raises(SendError, match="HTTP 302"):
        webhook(http_receiver.url).send(make_alert(), None)
    assert len(http_receiver.received) == 1


def test_webhook_to_a_closed_port_or_a_slow_receiver_fails(http_receiver: HttpReceiver) -> None:
    port = free_port()
    with pytest.raises(SendError, match=rf"refused by 127\.0\.0\.1:{port}$") as failure:
        webhook(f"http://127.0.0.1:{port}/x?token=s3cret").send(make_alert(), None)
    assert "s3cret" not in str(failure.value)

    http_receiver.delay_s = 1.0
    started = time.monotonic()
    with pytest.raises(SendError, match=r"no answer from 127\.0\.0\.1:\d+ within 0\.2 s"):
        webhook(http_receiver.url, timeout_s=0.2).send(make_alert(), None)
    assert time.monotonic() - started < 0.9


def test_webhook_signing_key_from_a_missing_variable_is_a_send_error(
    http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CW_TEST_HOOK_KEY", raising=False)
    with pytest.raises(SendError, match="CW_TEST_HOOK_KEY"):
        webhook(http_receiver.url, secret_env="CW_TEST_HOOK_KEY").send(make_alert(), None)
    assert http_receiver.received == []


# --- e-mail ----------------------------------------------------------------------------------


def mailer(port: int, **fields: Any) -> EmailSender:
    values = {
        "name": "mail",
        "kind": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "sender": "cashwatch@hotel.example",
        "to": ["desk@hotel.example", "boss@hotel.example"],
        "timeout_s": 5.0,
    }
    return EmailSender(EmailTarget.model_validate({**values, **fields}))


def test_email_arrives_with_subject_body_and_the_snapshot_attached(
    smtp_receiver: SmtpReceiver,
) -> None:
    sender = mailer(smtp_receiver.port)
    alert = make_alert()
    sender.send(alert, SNAPSHOT)
    sender.send(alert, SNAPSHOT)  # a retry of the same alert

    first, second = smtp_receiver.received
    assert first["Subject"] == "[CashWatch] " + alert.title
    assert first.mail_from == "cashwatch@hotel.example"
    assert first.rcpt_tos == ["desk@hotel.example", "boss@hotel.example"]
    assert first.attachments() == {"snapshot.jpg": ("image/jpeg", SNAPSHOT)}
    text = first.text()
    for fact in (LINK, "ev1:start", "Front desk (cam1)", "lobby", "87%", "Violence"):
        assert fact in text
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Message-ID"].endswith("@hotel.example>")
    assert first.logged_in_as is None


def test_email_end_without_snapshot_has_no_attachment(smtp_receiver: SmtpReceiver) -> None:
    mailer(smtp_receiver.port).send(make_alert("end"), None)
    [mail] = smtp_receiver.received
    assert "ended" in mail["Subject"] and mail.attachments() == {}
    assert re.fullmatch(r"<ev1\.end\.[0-9a-f]{12}@hotel\.example>", mail["Message-ID"])


def test_email_starttls_required_but_not_offered_fails(smtp_receiver: SmtpReceiver) -> None:
    with pytest.raises(SendError, match="does not offer STARTTLS"):
        mailer(smtp_receiver.port, starttls="require").send(make_alert(), SNAPSHOT)
    # auto sends in the clear when the server offers no TLS
    mailer(smtp_receiver.port, starttls="auto").send(make_alert(), None)
    assert len(smtp_receiver.received) == 1


def test_email_logs_in_when_a_user_is_set() -> None:
    with SmtpReceiver(credentials=("alice", "pw")) as smtp:
        # the test server offers no TLS: the password goes only when the admin said so
        with pytest.raises(SendError, match="not sent unencrypted"):
            mailer(smtp.port, username="alice", password="pw").send(make_alert(), None)
        clear = {"username": "alice", "starttls": "off"}
        mailer(smtp.port, password="pw", **clear).send(make_alert(), None)
        assert smtp.wait_for().logged_in_as == "alice"
        with pytest.raises(SendError, match="refused the login") as failure:
            mailer(smtp.port, password="wr0ng", **clear).send(make_alert(), None)
        assert "wr0ng" not in str(failure.value)
        assert len(smtp.received) == 1


def test_email_to_a_closed_port_fails() -> None:
    with pytest.raises(SendError, match="connection refused"):
        mailer(free_port()).send(make_alert(), None)


# --- MQTT ------------------------------------------------------------------------------------


@pytest.fixture
def mqtt_sender(mosquitto: MosquittoBroker) -> Iterator[Callable[..., MqttSender]]:
    """Makes MqttSenders for the test broker (closed after the test)."""
    made: list[MqttSender] = []

    def make(connect_wait_s: float = 3.0, **fields: Any) -> MqttSender:
        values = {"name": "broker", "kind": "mqtt", "host": "127.0.0.1", "port": mosquitto.port}
        target = MqttTarget.model_validate({**values, "topic_prefix": PREFIX, **fields})
        sender = MqttSender(
            target, connect_wait_s=connect_wait_s, publish_timeout_s=5.0, reconnect_max_s=2
        )
        made.append(sender)
        return sender

    yield make
    for sender in made:
        sender.close()


def retained(broker: MosquittoBroker, topic_filter: str) -> dict[str, bytes]:
    """What the broker keeps retained under `topic_filter`, seen by a new subscriber.

    A marker published after subscribing arrives after every retained message, so its
    arrival means all of them are in.
    """
    with MqttSubscriber(broker.port, "#") as subscriber:
        marker = f"test/marker/{time.monotonic_ns()}"
        paho_publish.single(marker, b"x", qos=1, hostname=broker.host, port=broker.port)
        subscriber.wait_for(lambda m: m.topic == marker)
        return {
            m.topic: m.payload
            for m in subscriber.received
            if m.retain and topic_matches_sub(topic_filter, m.topic)
        }


def test_mqtt_send_publishes_event_state_and_snapshot(
    mosquitto: MosquittoBroker, mqtt_sender: Callable[..., MqttSender]
) -> None:
    sender = mqtt_sender()
    with MqttSubscriber(mosquitto.port, f"{PREFIX}/#") as live:
        sender.send(make_alert("start"), SNAPSHOT)
        event = live.wait_for(lambda m: m.topic == f"{PREFIX}/events")
        assert event.json()["alert_id"] == "ev1:start" and not event.retain
        assert retained(mosquitto, f"{PREFIX}/cam1/#") == {
            f"{PREFIX}/cam1/snapshot": SNAPSHOT,
            f"{PREFIX}/cam1/violence": b"ON",
        }

        sender.send(make_alert("end"), SNAPSHOT)
        live.wait_for(lambda m: m.topic == f"{PREFIX}/events" and b"ev1:end" in m.payload)
        states = [m.text for m in live.on(f"{PREFIX}/cam1/violence")]
        assert states == ["ON", "OFF"]
        assert retained(mosquitto, f"{PREFIX}/cam1/violence") == {f"{PREFIX}/cam1/violence": b"OFF"}

        sender.send(make_alert("test", event_type="test", alert_id="t1:test"), None)
        live.wait_for(lambda m: b"t1:test" in m.payload)
        assert {m.topic for m in live.received} == {
            f"{PREFIX}/available",
            f"{PREFIX}/events",
            f"{PREFIX}/cam1/snapshot",
            f"{PREFIX}/cam1/violence",
        }
    assert len(live.on(f"{PREFIX}/cam1/snapshot")) == 1  # not on the end


def test_mqtt_discovery_and_state_are_retained(
    mosquitto: MosquittoBroker, mqtt_sender: Callable[..., MqttSender]
) -> None:
    sender = mqtt_sender()
    camera = CameraInfo("cam1", "Front desk", "lobby", ("cash", "violence", "fire", "camera_down"))
    sender.announce([camera, CameraInfo("cam2", "Back", "", ("tamper",))])
    sender.publish_state("cam1", "running")
    wait_until(lambda: sender.connected, 5, "the sender's connection")
    with MqttSubscriber(mosquitto.port, "homeassistant/#") as ha:
        ha.wait_for(lambda m: "cam2" in m.topic)
    configs = retained(mosquitto, "homeassistant/#")
    violence = json.loads(configs["homeassistant/binary_sensor/cashwatch_cam1_violence/config"])
    assert violence == {
        "name": "Violence",
        "unique_id": "cashwatch_cam1_violence",
        "state_topic": f"{PREFIX}/cam1/violence",
        "payload_on": "ON",
        "payload_off": "OFF",
        "availability_topic": f"{PREFIX}/available",
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {
            "identifiers": ["cashwatch_cam1"],
            "name": "Front desk",
            "manufacturer": "CashWatch",
            "suggested_area": "lobby",
        },
        "device_class": "safety",
    }
    classes = {
        topic.split("/")[2]: json.loads(payload).get("device_class")
        for topic, payload in configs.items()
        if "/binary_sensor/" in topic
    }
    assert classes == {
        "cashwatch_cam1_cash": None,
        "cashwatch_cam1_violence": "safety",
        "cashwatch_cam1_fire": "smoke",
        "cashwatch_cam1_camera_down": "problem",
        "cashwatch_cam2_tamper": "problem",
    }
    image = json.loads(configs["homeassistant/image/cashwatch_cam1_snapshot/config"])
    assert image["image_topic"] == f"{PREFIX}/cam1/snapshot"
    assert retained(mosquitto, f"{PREFIX}/cam1/status") == {f"{PREFIX}/cam1/status": b"running"}

    # a camera removed: its entities' configs are emptied, which deletes them in HA
    sender.announce([camera])
    wait_until(
        lambda: not any("cam2" in t for t in retained(mosquitto, "homeassistant/#")),
        5,
        "cam2's discovery removed",
    )


def test_mqtt_no_discovery_without_a_prefix(
    mosquitto: MosquittoBroker, mqtt_sender: Callable[..., MqttSender]
) -> None:
    sender = mqtt_sender(discovery_prefix="")
    sender.announce([CameraInfo("cam1", "Front desk", "lobby", ("cash",))])
    sender.send(make_alert(), None)  # connected and acknowledged: announce went first
    assert retained(mosquitto, "homeassistant/#") == {}


def test_mqtt_availability_online_then_offline_and_the_last_will(
    mosquitto: MosquittoBroker, mqtt_sender: Callable[..., MqttSender]
) -> None:
    sender = mqtt_sender()
    available = f"{PREFIX}/available"
    with MqttSubscriber(mosquitto.port, available) as watch:
        sender.publish_state("cam1", "running")  # first use: connects
        watch.wait_for(lambda m: m.text == "online")
        # the line drops without a DISCONNECT: the broker publishes the will. (The
        # sender's private client: nothing public should offer to break a connection.)
        client_socket = sender._client.socket() if sender._client else None
        assert isinstance(client_socket, socket.socket)
        client_socket.shutdown(socket.SHUT_RDWR)
        watch.wait_for(lambda m: m.text == "offline")
        # paho reconnects by itself and says online again
        wait_until(lambda: [m.text for m in watch.received][-1:] == ["online"], 5, "online again")
        sender.close()

        def texts() -> list[str]:
            return [m.text for m in watch.received]

        wait_until(lambda: texts()[-1:] == ["offline"], 5, "offline after close")
        assert texts() == ["online", "offline", "online", "offline"]
    assert retained(mosquitto, available) == {available: b"offline"}
    with pytest.raises(SendError, match="closed"):
        sender.send(make_alert(), None)


def test_mqtt_send_fails_while_the_broker_is_down_and_works_after(
    mosquitto: MosquittoBroker, mqtt_sender: Callable[..., MqttSender]
) -> None:
    # a short connect wait: the outage below fails fast; the reconnect is waited for
    sender = mqtt_sender(connect_wait_s=0.2)
    sender.announce([CameraInfo("cam1", "Front desk", "lobby", ("violence",))])
    sender.publish_state("cam1", "running")
    wait_until(lambda: sender.connected, 5, "the first connection")
    sender.send(make_alert(), SNAPSHOT)

    mosquitto.stop()
    wait_until(lambda: not sender.connected, 5, "the sender seeing the broker gone")
    with pytest.raises(SendError, match=f"not connected to MQTT broker 127.0.0.1:{mosquitto.port}"):
        sender.send(make_alert("end"), None)

    mosquitto.start()  # same port, nothing retained (no persistence)
    wait_until(lambda: sender.connected, 10, "the reconnect")  # paho retries after 1, 2 s
    with MqttSubscriber(mosquitto.port, f"{PREFIX}/events") as live:
        sender.send(make_alert("end"), None)
        live.wait_for(lambda m: b"ev1:end" in m.payload)
    kept = retained(mosquitto, "#")
    # republished on reconnect: availability, discovery and state
    assert kept[f"{PREFIX}/available"] == b"online"
    assert kept[f"{PREFIX}/cam1/status"] == b"running"
    assert "homeassistant/binary_sensor/cashwatch_cam1_violence/config" in kept
    assert kept[f"{PREFIX}/cam1/violence"] == b"OFF"


# --- make_sender -----------------------------------------------------------------------------


def test_make_sender_picks_the_kind() -> None:
    hook = WebhookTarget.model_validate({"name": "a", "kind": "webhook", "url": "http://x/"})
    broker = MqttTarget.model_validate({"name": "b", "kind": "mqtt", "host": "127.0.0.1"})
    mail = EmailTarget.model_validate(
        {"name": "c", "kind": "email", "smtp_host": "x", "to": ["a@b.example"]}
    )
    made = [make_sender(t) for t in (hook, broker, mail)]
    assert [type(s) for s in made] == [WebhookSender, MqttSender, EmailSender]
    assert [s.name for s in made] == ["a", "b", "c"]
    for sender in made:
        sender.close()  # MQTT never connected: nothing to do
