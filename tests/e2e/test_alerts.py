"""A real manager and camera processes to a real webhook receiver, a real Mosquitto broker
and a real SMTP server on loopback: targets that are down get every alert once they are
back, once each, and the cameras never notice."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cashwatch.alerts.state import read_state
from tests.harness import ManagerProcess, wait_for, write_config
from tests.support.alert_receivers import (
    HttpReceiver,
    MosquittoBroker,
    MqttSubscriber,
    SmtpReceiver,
)
from tests.support.rtsp import free_port

pytestmark = pytest.mark.slow

OFF = {"enabled": False}


def _journal(data_dir: Path, camera_id: str, kind: str) -> list[dict[str, Any]]:
    """The camera's journal lines of one kind, as its worker wrote them."""
    lines = [
        json.loads(line)
        for path in sorted((data_dir / "journal" / camera_id).glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    return [line for line in lines if line.get("kind") == kind]


def _accepted(receiver: HttpReceiver) -> Counter[str]:
    """Alert ids the receiver answered 2xx, counted."""
    return Counter(r.json()["alert_id"] for r in receiver.received if r.status == 200)


def _metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """One scrape of the manager's /metrics: (name, labels) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _config(
    tmp_path: Path, hook: HttpReceiver, broker: MosquittoBroker, smtp: SmtpReceiver, port: int
) -> Path:
    dead = f"rtsp://127.0.0.1:{free_port()}/nothing-listens-here"
    return write_config(
        tmp_path / "cashwatch.toml",
        [
            {
                "id": "fire",
                "name": "Back office",
                "site": "office",
                "source": "demo:fire",
                "cooldown_s": 5.0,
                "detection": {"cash": OFF, "violence": OFF},
                "clip": {"pre_seconds": 2.0, "post_seconds": 1.0},
            },
            {"id": "gone", "source": dead, "detection": {"cash": OFF, "violence": OFF}},
        ],
        alerting={"camera_down_after_s": 2.0, "retry_max_s": 2.0, "failing_after": 2},
        dashboard={"public_url": "https://cctv.hotel.example"},
        metrics={"enabled": True, "port": port},
        alerts=[
            {"name": "hook", "kind": "webhook", "url": f"{hook.url}/hook", "cooldown_s": 0},
            {"name": "ha", "kind": "mqtt", "host": "127.0.0.1", "port": broker.port},
            {
                "name": "mail",
                "kind": "email",
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "to": ["guard@hotel.example"],
                "types": ["fire"],
            },
        ],
    )


def test_alerts_reach_targets_that_were_down_once_each(tmp_path: Path) -> None:
    port = free_port()
    with (
        HttpReceiver() as hook,
        MosquittoBroker(persistent=True) as broker,
        MqttSubscriber(broker.port, "cashwatch/#", session=True) as mqtt,
        SmtpReceiver() as smtp,
        ManagerProcess(_config(tmp_path, hook, broker, smtp, port)) as manager,
    ):
        hook.up = False  # the webhook's receiver is down from the start
        manager.wait_state("fire", "running", 60)
        fire_count = ("cashwatch_events_total", (("camera", "fire"), ("type", "fire")))
        before = _metrics(port).get(fire_count, 0.0)  # scraped before the fire

        # the picture-less camera: camera_down, refused by the webhook and retried
        wait_for(
            lambda: sum(r.json()["event_id"].startswith("down-gone") for r in hook.received) >= 2,
            30,
            "the webhook refusing gone's camera_down twice",
        )
        fire = wait_for(lambda: _journal(tmp_path, "fire", "event"), 60, "a fire event")[0]
        # in order: the fire waits behind the camera_down the receiver keeps refusing
        failing = wait_for(
            lambda: [
                t
                for t in read_state(tmp_path)[1]
                if t.name == "hook" and t.failing and t.pending >= 2
            ],
            10,
            "the webhook shown as failing, the fire queued behind camera_down",
        )[0]
        assert "HTTP 503" in failing.last_error
        assert hook.url not in failing.last_error
        hook.up = True

        # back up: everything refused arrives, once, with its snapshot
        start = f"{fire['event_id']}:start"
        wait_for(lambda: _accepted(hook)[start], 20, "the fire at the webhook once it is up")
        delivered = next(
            r for r in hook.received if r.status == 200 and r.json()["alert_id"] == start
        )
        body = delivered.json()
        assert body["camera_name"] == "Back office" and body["event_type"] == "fire"
        assert body["link"] == f"https://cctv.hotel.example/events?event={fire['event_id']}"
        assert body["snapshot_jpeg_base64"], "the snapshot travels with the alert"
        assert any(a.startswith("down-gone-") for a in _accepted(hook)), "camera_down delivered"

        # /metrics: the camera's rate, the events, the target's retries
        scraped = _metrics(port)
        assert scraped[("cashwatch_camera_fps", (("camera", "fire"), ("site", "office")))] > 0
        assert scraped[("cashwatch_camera_up", (("camera", "gone"), ("site", "default")))] == 0
        assert scraped[fire_count] >= before + 1
        assert scraped[("cashwatch_alerts_failed_total", (("target", "hook"),))] >= 2

        # MQTT: the broker goes away while the fire ends and comes back
        wait_for(lambda: _on_events(mqtt, start), 20, "the fire start on cashwatch/events")
        broker.stop()
        stopped = time.monotonic()
        frames = manager.worker("fire")["frames_processed"]
        end = wait_for(
            lambda: [
                e
                for e in _journal(tmp_path, "fire", "event_end")
                if e["event_id"] == fire["event_id"]
            ],
            40,
            "the fire's end, journaled while the broker is down",
        )
        assert end
        wait_for(
            lambda: manager.worker("fire")["frames_processed"] > frames + 20,
            20,
            "the fire camera going on while the broker is down",
        )
        # an outage of 30 s at least, whatever the fire's timing
        wait_for(lambda: time.monotonic() - stopped >= 30, 31, "30 s of broker outage", 0.5)
        broker.start()
        wait_for(
            lambda: _on_events(mqtt, f"{fire['event_id']}:end"),
            30,
            "the fire's end on cashwatch/events after the broker's return",
        )
        states = [m.text for m in mqtt.on("cashwatch/fire/fire")]
        assert "OFF" in states[states.index("ON") :], states  # the next fire may be ON again
        assert mqtt.on("cashwatch/fire/snapshot")[-1].payload[:2] == b"\xff\xd8", "a JPEG"
        assert mqtt.on("cashwatch/available")[-1].text == "online"
        assert mqtt.on("cashwatch/gone/status")[-1].text in ("error", "reconnecting")

        # e-mail: only fire, with its snapshot
        mail = smtp.wait_for(lambda m: "Fire at Back office" in str(m["Subject"]), 20)
        assert "snapshot.jpg" in mail.attachments()
    # every alert arrived once: the retries of refused ones are not duplicates
    assert max(_accepted(hook).values()) == 1, _accepted(hook)
    on_events = Counter(m.json()["alert_id"] for m in mqtt.on("cashwatch/events"))
    assert on_events and max(on_events.values()) == 1, on_events
    assert all("Fire" in str(m["Subject"]) for m in smtp.received), "mail gets fire only"


def _on_events(mqtt: MqttSubscriber, alert_id: str) -> bool:
    return any(m.json()["alert_id"] == alert_id for m in mqtt.on("cashwatch/events"))
