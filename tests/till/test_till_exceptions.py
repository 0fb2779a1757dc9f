"""Refunds and no-sales with nobody at the counter: the pure judgement at its edges, and
the manager's till round with a real journal, a real DuckDB file and real JPEGs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from cashwatch.config import parse_config
from cashwatch.manager.till import TillUpkeep
from cashwatch.shm.frames import LiveFrame
from cashwatch.store.ingest import Ingestor
from cashwatch.till.exceptions import CounterView, ExceptionWindow, judge
from cashwatch.till.imports import journal_transactions, till_journal
from cashwatch.till.transactions import Transaction
from tests.store.builders import query

WINDOW = ExceptionWindow(before_s=30.0, after_s=10.0, max_skew_s=5.0)  # 965 .. 1015
REFUND = Transaction("till-1", 1000.0, 20.0, "USD", "refund", "r1")
NOW = 1100.0


def _running(now: float, customer_seen_ts: float = 0.0, **fields: Any) -> dict[str, Any]:
    """A camera's status record as `cashwatch.status.camera_record` gives it."""
    fresh = {"heartbeat_ts": now, "last_frame_ts": now, "detection_error": ""}
    return {"running": True, "customer_seen_ts": customer_seen_ts, **fresh, **fields}


def _view(**fields: Any) -> CounterView:
    return CounterView(**{"camera_id": "cam", "watched_since": 900.0, **fields})


@pytest.mark.parametrize(
    ("views", "finding"),
    [
        ([_view()], "exception"),
        ([_view(customers_at=(964.0, 1016.0))], "exception"),  # just outside, both sides
        ([_view(customers_at=(965.0,))], "customer"),  # the window's first instant
        ([_view(customers_at=(1015.0,))], "customer"),  # and its last
        ([_view(cash_at=(1012.0,))], "cash"),
        ([_view(watched_since=965.0)], "exception"),  # watching from its very start
        ([_view(watched_since=966.0)], "unwatched"),  # a second short
        ([_view(watched_since=None)], "unwatched"),  # not watching now
        ([], "no_camera"),
        # two cameras on one till: one that did not watch proves nothing, one that did
        # decides; a customer seen by either explains the refund
        ([_view(camera_id="a", watched_since=None), _view(camera_id="b")], "exception"),
        ([_view(camera_id="a"), _view(camera_id="b", customers_at=(990.0,))], "customer"),
    ],
)
def test_a_refund_is_an_exception_only_when_a_watching_camera_saw_nobody(
    views: list[CounterView], finding: str
) -> None:
    assert judge(REFUND, views, WINDOW, NOW).finding == finding


def test_the_judgement_waits_for_the_window_and_the_skew_to_close() -> None:
    assert judge(REFUND, [_view()], WINDOW, 1014.9).finding == "wait"
    assert judge(REFUND, [_view()], WINDOW, 1015.0).camera_id == "cam"


def test_only_refunds_and_no_sales_are_judged() -> None:
    sale = Transaction("till-1", 1000.0, 20.0, "USD", "sale", "s1")
    with pytest.raises(ValueError, match="'sale' is not judged; valid: refund, no_sale"):
        judge(sale, [_view()], WINDOW, NOW)


CONFIG = """
[till]
exception_before_s = 0.3
exception_after_s = 0.3
max_skew_s = 0.0

[[cameras]]
id = "back-office"
source = "demo:fire"
till_id = "quiet"
zones = { cashier = [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]] }

[[cameras]]
id = "front"
source = "demo:handover"
till_id = "busy"

[[cameras]]
id = "lobby"
source = "demo:walk"

# on a till, but looking for nobody: it can prove no refund
[[cameras]]
id = "blind"
source = "demo:fire"
till_id = "blind-till"
detection = { cash = { enabled = false }, violence = { enabled = false } }
"""


def test_the_till_round_raises_a_refund_to_nobody_with_its_snapshot(tmp_path: Path) -> None:
    """Two tills: nobody at the quiet one's counter, a customer in view at the busy one.
    The quiet till's refund becomes one till_exception event, with its end and the
    camera's frame of that moment; the busy till's refund, a sale and a refund on a till
    whose only camera looks for nobody raise nothing."""
    loaded = parse_config(CONFIG, tmp_path / "cashwatch.toml")
    ingestor = Ingestor(tmp_path)
    journal = till_journal(tmp_path)
    upkeep = TillUpkeep(tmp_path, journal)
    image = np.full((240, 320, 3), 90, np.uint8)

    def records() -> dict[str, dict[str, Any]]:
        now = time.time()
        return {
            "back-office": _running(now),
            "front": _running(now, customer_seen_ts=now),
            "lobby": _running(now),
            "blind": _running(now),
        }

    def live(camera_id: str) -> LiveFrame | None:
        return LiveFrame(image, 1, time.time()) if camera_id == "back-office" else None

    def round_() -> list[tuple[Any, ...]]:
        upkeep._next = 0.0  # a round now, not MATCH_EVERY_S after the last
        upkeep.step(loaded, records(), live)
        ingestor.poll()
        return query(
            tmp_path,
            "SELECT event_id, camera_id, event_type, epoch(started_at), epoch(ended_at), "
            "snapshot_path, clip_error, details->>'reason' FROM events",
        )

    round_()  # the cameras are seen watching from now on
    at = time.time() + 0.5  # rung up once both have watched longer than the window
    journal_transactions(
        journal,
        [
            Transaction("quiet", at, 20.0, "USD", "refund", "Q1"),
            Transaction("busy", at, 20.0, "USD", "refund", "B1"),
            Transaction("quiet", at, 5.0, "USD", "sale", "Q2"),
            Transaction("blind-till", at, 20.0, "USD", "refund", "X1"),
        ],
        "test",
    )
    deadline = time.monotonic() + 15.0
    while not (rows := round_()) and time.monotonic() < deadline:
        pass
    assert len(rows) == 1, rows
    _, camera_id, event_type, started, ended, snapshot, clip_error, reason = rows[0]
    assert (camera_id, event_type) == ("back-office", "till_exception")
    assert started == pytest.approx(at, abs=1e-3) and ended == pytest.approx(at, abs=1e-3)
    assert reason == "refund rung up with no customer in view"
    assert clip_error.startswith("no clip")
    picture = cv2.imread(str(tmp_path / snapshot))
    assert picture is not None and picture.shape == image.shape
    # the caption band along the bottom, in the type's colour; the rest the frame
    assert picture[-5, 5].tolist() != image[-5, 5].tolist()
    assert np.abs(picture[100, 200].astype(int) - 90).max() < 8
    # judged once: more rounds raise nothing more, and the busy till's refund stays quiet
    for _ in range(3):
        assert len(round_()) == 1
    assert query(tmp_path, "SELECT count(*) FROM transactions") == [(4,)]


def test_a_refund_reported_late_is_raised_without_a_picture(tmp_path: Path) -> None:
    """The till sent its refund a minute after ringing it up: the live frame is no longer
    that moment's, so the event says why it has none."""
    loaded = parse_config(CONFIG, tmp_path / "cashwatch.toml")
    ingestor = Ingestor(tmp_path)
    journal = till_journal(tmp_path)
    upkeep = TillUpkeep(tmp_path, journal)
    quiet = {"back-office": _running(time.time())}
    upkeep.exceptions.watch.since["back-office"] = time.time() - 120.0  # watched 2 min
    journal_transactions(
        journal, [Transaction("quiet", time.time() - 60.0, 9.0, "EUR", "no_sale", "N1")], "t"
    )
    ingestor.poll()
    upkeep.step(loaded, quiet, lambda _: LiveFrame(np.zeros((8, 8, 3), np.uint8), 1, time.time()))
    ingestor.poll()
    rows = query(tmp_path, "SELECT snapshot_path, details->>'snapshot_error' FROM events")
    assert rows == [
        (
            None,
            "no live frame of that moment: the transaction reached the manager more than "
            "20 s after it was rung up",
        )
    ]


def test_a_camera_that_stopped_watching_starts_again(tmp_path: Path) -> None:
    from cashwatch.manager.till_exceptions import CounterWatch

    watch = CounterWatch()
    watch.update({"cam": _running(100.0, customer_seen_ts=50.0)}, ["cam"], 100.0)
    watch.update({"cam": _running(160.0, customer_seen_ts=150.0)}, ["cam"], 160.0)
    assert watch.view("cam", []) == CounterView("cam", 100.0, (50.0, 150.0))
    for blind in (
        {"detection_error": "detection waiting for the inference service: down"},
        {"detection_error": "detection disabled: RuntimeError: no model"},
        {"heartbeat_ts": 160.0},  # hung since: its last heartbeat 10 s old
        {"last_frame_ts": 160.0},  # no frame for 10 s
        {"running": False},
    ):
        watch.update({"cam": _running(170.0, **blind)}, ["cam"], 170.0)
        assert watch.view("cam", []).watched_since is None, blind
        watch.update({"cam": _running(165.0)}, ["cam"], 165.0)
    # a degraded mode (the violence verifier down) still looks for people
    verifier_down = "violence verifier unavailable (x): the pose rule decides meanwhile"
    watch.update({"cam": _running(180.0, detection_error=verifier_down)}, ["cam"], 180.0)
    assert watch.view("cam", []).watched_since == 165.0
    watch.update({}, [], 190.0)  # its till_id taken away
    assert watch.view("cam", []) == CounterView("cam", None, ())


DEMO = """
[till]
demo_tills = ["demo-till"]
max_skew_s = 0.0
exception_before_s = 4.0
exception_after_s = 2.0

[[cameras]]
id = "demo-counter"
source = "demo:handover"
till_id = "demo-till"
"""


def test_the_demo_till_opens_its_drawer_once_a_guest_has_left(tmp_path: Path) -> None:
    """Not before the camera has seen a customer (a guest walking in may not be seen
    yet), then once nobody has been in view for the window; again soon when someone was
    there after all, and only minutes later after an exception."""
    loaded = parse_config(DEMO, tmp_path / "cashwatch.toml")
    exceptions = TillUpkeep(tmp_path, till_journal(tmp_path)).exceptions
    now = time.time()

    def seen(at: float, customer: float) -> list[Transaction]:
        records = {"demo-counter": _running(at, customer_seen_ts=customer)}
        exceptions.watch.update(records, ["demo-counter"], at)
        return exceptions.demo_no_sales(loaded, at)

    assert seen(now, 0.0) == [] and seen(now + 10.0, 0.0) == []  # nobody seen yet
    assert seen(now + 11.0, now + 11.0) == []  # a guest
    assert seen(now + 14.0, now + 11.0) == []  # gone 3 s: not long enough
    rung = seen(now + 15.6, now + 11.0)  # gone 4.6 s: the window and half a second
    assert [(t.till_id, t.kind, t.at) for t in rung] == [("demo-till", "no_sale", now + 15.6)]
    assert seen(now + 30.0, now + 11.0) == []  # once
    exceptions._done(("demo-till", rung[0].reference), "cash")  # a guest was there
    assert seen(time.time() + 31.0, now + 11.0) != []  # tried again half a minute on
    later = exceptions.demo_no_sales(loaded, time.time() + 32.0)
    assert later == []
