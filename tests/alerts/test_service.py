"""The alert service across restarts and failed passes, with a real webhook receiver:
an end goes where its start went, also when a restart or a full disk came between."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from cashwatch.alerts.outbox import Outbox
from cashwatch.alerts.routing import CameraRef
from cashwatch.alerts.service import AlertService, AlertSettings, CameraView
from cashwatch.config.alerts import AlertingConfig, AlertTarget
from cashwatch.store.journal import JournalWriter
from tests.support.alert_receivers import HttpReceiver

_TARGET: TypeAdapter[Any] = TypeAdapter(AlertTarget)
TILL = CameraRef("Front till", "lobby")


def _settings(url: str) -> AlertSettings:
    hook = _TARGET.validate_python({"name": "hook", "kind": "webhook", "url": f"{url}/h"})
    return AlertSettings((hook,), AlertingConfig(camera_down_after_s=5.0, retry_max_s=1.0), "")


def _cameras(state: str = "running") -> dict[str, CameraView]:
    return {"till": CameraView("till", TILL, ("fire", "camera_down"), True, state, "no frames")}


def _delivered(receiver: HttpReceiver) -> list[str]:
    return [r.json()["alert_id"] for r in receiver.received if r.status == 200]


@pytest.fixture
def receiver() -> Any:
    with HttpReceiver() as hook:
        hook.up = False
        yield hook


def test_an_end_after_a_restart_goes_where_its_start_went(tmp_path: Path, receiver) -> None:
    journal = JournalWriter(tmp_path, "till")
    journal._current_fd()  # the camera's journal exists before alerting first looks
    first = AlertService(tmp_path, _settings(receiver.url))
    journal.append("event", {"event_id": "E1", "camera_id": "till", "event_type": "fire"})
    first.step(_cameras())
    first.close()  # the receiver was down all along: E1's start waits in the outbox

    second = AlertService(tmp_path, _settings(receiver.url))
    journal.append("event_end", {"event_id": "E1", "ended_at": 2.0})
    second.step(_cameras())
    receiver.up = True
    receiver.wait_for(lambda r: r.status == 200 and r.json()["alert_id"] == "E1:end", 10)
    second.close()
    assert _delivered(receiver) == ["E1:start", "E1:end"]
    assert receiver.received[-1].json()["event_type"] == "fire", "the end knows its start"


def test_a_pass_that_fails_half_way_decides_again_the_same(tmp_path: Path, receiver) -> None:
    receiver.up = True
    journal = JournalWriter(tmp_path, "till")
    journal._current_fd()
    service = AlertService(tmp_path, _settings(receiver.url))
    journal.append("event", {"event_id": "E1", "camera_id": "till", "event_type": "fire"})
    service.step(_cameras())
    receiver.wait_for(lambda r: r.status == 200, 10)
    journal.append("event_end", {"event_id": "E1", "ended_at": 2.0})
    service.outbox.close()  # the outbox refuses the end, as on a full disk
    with pytest.raises(OSError):
        service.step(_cameras())
    assert service.event_counts() == {("till", "fire"): 1}
    service.outbox = Outbox(tmp_path)  # the disk has room again
    for thread in service.threads.values():
        thread.outbox = service.outbox
    service.step(_cameras())
    receiver.wait_for(lambda r: r.status == 200 and r.json()["alert_id"] == "E1:end", 10)
    service.close()
    assert _delivered(receiver) == ["E1:start", "E1:end"]
    assert service.event_counts() == {("till", "fire"): 1}, "the event counted once"


def test_a_camera_down_at_a_restart_still_ends(tmp_path: Path, receiver) -> None:
    receiver.up = True
    first = AlertService(tmp_path, _settings(receiver.url))
    first.step(_cameras("error"), now=1000.0)
    first.step(_cameras("error"), now=1006.0)
    receiver.wait_for(lambda r: r.status == 200, 10)
    first.close()
    second = AlertService(tmp_path, _settings(receiver.url))
    second.step(_cameras("running"), now=1100.0)
    end = receiver.wait_for(lambda r: r.json()["phase"] == "end", 10).json()
    second.close()
    assert end["alert_id"] == "down-till-1000000:end" and end["event_type"] == "camera_down"
    assert end["camera_name"] == "Front till"


def test_the_tills_journal_sends_its_exceptions_and_unmatched_hand_overs(
    tmp_path: Path, receiver
) -> None:
    """From the tills' journal: a till exception goes out as an event (start and end), a
    hand-over found unmatched as a notice with its snapshot flag; matched and pending
    outcomes are no news. A target filtering on `cash_unmatched` gets only that."""
    receiver.up = True
    till = JournalWriter(tmp_path, "_till")
    till._current_fd()
    hook = _TARGET.validate_python({"name": "hook", "kind": "webhook", "url": f"{receiver.url}/h"})
    only = _TARGET.validate_python(
        {
            "name": "loss",
            "kind": "webhook",
            "url": f"{receiver.url}/loss",
            "types": ["cash_unmatched"],
        }
    )
    settings = AlertSettings((hook, only), AlertingConfig(retry_max_s=1.0), "http://cw.test")
    service = AlertService(tmp_path, settings)
    till.append(
        "event",
        {
            "event_id": "T1",
            "camera_id": "till",
            "event_type": "till_exception",
            "started_at": 5.0,
            "confidence": 1.0,
        },
    )
    till.append("event_end", {"event_id": "T1", "ended_at": 5.0})
    for outcome, event_id in (("pending", "C0"), ("unmatched", "C1"), ("matched", "C2")):
        till.append(
            "till_match",
            {
                "event_id": event_id,
                "till_match": outcome,
                "till_id": "front-1",
                "camera_id": "till",
                "started_at": 3.0,
                "confidence": 0.8,
                "snapshot_path": "snapshots/x.jpg",
            },
        )
    service.step(_cameras())
    receiver.wait_for(lambda r: len([x for x in receiver.received if x.status == 200]) == 4, 10)
    service.close()
    by_path = [(r.path, r.json()["alert_id"]) for r in receiver.received if r.status == 200]
    assert sorted(by_path) == [
        ("/h", "C1:unmatched"),
        ("/h", "T1:end"),
        ("/h", "T1:start"),
        ("/loss", "C1:unmatched"),
    ]
    notice = next(r.json() for r in receiver.received if r.path == "/loss")
    assert notice["phase"] == "notice" and notice["event_type"] == "cash_unmatched"
    assert notice["camera_name"] == "Front till" and notice["site"] == "lobby"
    assert notice["link"] == "http://cw.test/events?event=C1" and notice["has_snapshot"]
