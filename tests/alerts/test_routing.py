"""Which targets get an alert: filters, cooldown, suspension, and ends where starts went."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from cashwatch.alerts.routing import CameraRef, RoutingBook, end_alert, route, start_alert
from cashwatch.config.alerts import AlertTarget

_TARGET: TypeAdapter[Any] = TypeAdapter(AlertTarget)


def _hook(name: str, **filters: Any) -> Any:
    return _TARGET.validate_python(
        {"name": name, "kind": "webhook", "url": "http://127.0.0.1:9/h", **filters}
    )


def _event(event_id: str, event_type: str = "violence", **fields: Any) -> dict[str, Any]:
    return {
        "kind": "event",
        "event_id": event_id,
        "camera_id": "till",
        "site": "lobby",
        "event_type": event_type,
        "started_at": 1000.0,
        "confidence": 0.8,
        "details": {},
        "snapshot_path": f"snapshots/{event_id}.jpg",
        **fields,
    }


REF = CameraRef("Front till", "lobby")


def test_filters_pick_the_targets() -> None:
    targets = [
        _hook("all"),
        _hook("fire-only", types=["fire"]),
        _hook("other-site", sites=["garage"]),
        _hook("sure", min_confidence=0.9),
        _hook("till-cam", cameras=["till"]),
    ]
    alert = start_alert("till", _event("e1"), REF, "https://cctv.example")
    assert route(alert, targets, {}, RoutingBook(), 1000.0) == ["all", "till-cam"]
    assert alert.camera_name == "Front till"
    assert alert.link == "https://cctv.example/events?event=e1"


def test_a_tamper_event_is_a_camera_down_alert() -> None:
    targets = [_hook("down", types=["camera_down"]), _hook("fights", types=["violence"])]
    alert = start_alert("till", _event("t1", "tamper", confidence=None), REF, "")
    assert alert.event_type == "camera_down" and alert.link is None
    assert route(alert, targets, {}, RoutingBook(), 1000.0) == ["down"]


def test_cooldown_per_target_camera_and_type() -> None:
    targets = [_hook("slow", cooldown_s=60), _hook("fast", cooldown_s=0)]
    book = RoutingBook()
    first = start_alert("till", _event("e1"), REF, "")
    assert route(first, targets, {}, book, 1000.0) == ["slow", "fast"]
    second = start_alert("till", _event("e2"), REF, "")
    assert route(second, targets, {}, book, 1030.0) == ["fast"]
    fire = start_alert("till", _event("e3", "fire"), REF, "")
    assert route(fire, targets, {}, book, 1030.0) == ["slow", "fast"]  # another type
    third = start_alert("till", _event("e4"), REF, "")
    assert route(third, targets, {}, book, 1060.5) == ["slow", "fast"]


def test_ends_go_where_their_start_went_also_when_suspended() -> None:
    targets = [_hook("a", cooldown_s=60), _hook("b", cooldown_s=60)]
    book = RoutingBook()
    start = start_alert("till", _event("e1"), REF, "")
    assert route(start, targets, {}, book, 1000.0) == ["a", "b"]
    cooled = start_alert("till", _event("e2"), REF, "")
    assert route(cooled, targets, {}, book, 1010.0) == []
    suspended = {"till": 5000.0}
    end = end_alert("till", {"event_id": "e1", "ended_at": 1020.0}, start)
    assert route(end, targets, suspended, book, 1020.0) == ["a", "b"]
    assert end.alert_id == "e1:end" and end.event_type == "violence"
    cooled_end = end_alert("till", {"event_id": "e2", "ended_at": 1030.0}, cooled)
    assert route(cooled_end, targets, {}, book, 1030.0) == [], "no OFF without an ON"
    quiet = start_alert("till", _event("e3"), REF, "")
    assert route(quiet, targets, suspended, book, 2000.0) == []
    quiet_end = end_alert("till", {"event_id": "e3", "ended_at": 2010.0}, quiet)
    assert route(quiet_end, targets, {}, book, 2010.0) == [], "suspended start, silent end"
    # a start routed before a restart is not in the new book: its filters decide
    unknown = end_alert("till", {"event_id": "e9", "ended_at": 2020.0}, quiet)
    assert route(unknown, targets, {}, RoutingBook(), 2020.0) == ["a", "b"]


def test_a_suspension_ends_by_itself() -> None:
    alert = start_alert("till", _event("e1"), REF, "")
    assert route(alert, [_hook("a")], {"till": 1500.0}, RoutingBook(), 1501.0) == ["a"]
