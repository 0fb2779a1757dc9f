"""Till outcomes on the dashboard: the Events page's column, filter and the sale beside
the clip; the Overview's hand-overs with no sale first (docs/till.md)."""

from __future__ import annotations

import datetime as dt

import duckdb

from tests.dashboard.builders import EVENT_ID
from tests.dashboard.conftest import Dashboard

UNPAID = "0190000000000aaaabbbbccccdddd02"


def _till(dash: Dashboard) -> None:
    """The history's hand-over matched to a sale, and an older one with no sale."""
    with duckdb.connect(str(dash.data_dir / "cashwatch.duckdb")) as conn:
        conn.execute(
            "INSERT INTO transactions VALUES ('front-1', 'R1', ?, 12.5, 'USD', 'sale', 'test', "
            "now())",
            [dt.datetime.now(dt.UTC) - dt.timedelta(seconds=50)],
        )
        conn.execute(
            "UPDATE events SET till_id = 'front-1', till_match = 'matched', "
            "till_reference = 'R1' WHERE event_id = ?",
            [EVENT_ID],
        )
        conn.execute(
            "INSERT INTO events (event_id, camera_id, site, event_type, started_at, confidence, "
            "model, till_id, till_match) VALUES (?, 'cam-a', 'lobby', 'cash', ?, 0.8, 'x', "
            "'front-1', 'unmatched')",
            [UNPAID, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)],
        )


def test_the_events_page_shows_and_filters_the_till_outcome(dash: Dashboard) -> None:
    _till(dash)
    at = dash.page("pages/events.py")
    assert not at.exception, at.exception
    shown = at.dataframe[0].value
    assert dict(zip(shown["event_id"], shown["till_match"], strict=True))[UNPAID] == "unmatched"
    at.selectbox(key="ev_selected").select(EVENT_ID).run()
    assert any("Rung up on till front-1: sale of 12.50 USD" in s.value for s in at.success)
    at.selectbox(key="ev_selected").select(UNPAID).run()
    assert any("No sale was rung up on till front-1" in e.value for e in at.error)

    at.multiselect(key="ev_till").select("unmatched").run()
    assert list(at.dataframe[0].value["event_id"]) == [UNPAID]


def test_the_overview_puts_hand_overs_without_a_sale_first(dash: Dashboard) -> None:
    _till(dash)
    at = dash.app().run()
    assert not at.exception, at.exception
    # badges are Markdown: `:color-badge[icon label]`, in the order the tiles are drawn
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    order = [b for b in badges if "No sale rung up" in b or "cash" in b]
    assert "No sale rung up" in order[1], order  # the older one's tile first: its type,
    assert "cash" in order[0] and "cash" in order[2], order  # its mark, then the newer one


REFUND = "0190000000000aaaabbbbccccdddd03"


def test_a_till_exception_shows_its_refund_and_comes_first(dash: Dashboard) -> None:
    _till(dash)
    with duckdb.connect(str(dash.data_dir / "cashwatch.duckdb")) as conn:
        at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
        conn.execute(
            "INSERT INTO transactions VALUES ('front-1', 'F9', ?, 40, 'USD', 'refund', 'test', "
            "now())",
            [at],
        )
        conn.execute(
            "INSERT INTO events (event_id, camera_id, site, event_type, started_at, confidence, "
            "model, details) VALUES (?, 'cam-a', 'lobby', 'till_exception', ?, 1.0, 'till', ?)",
            [REFUND, at, '{"till_id": "front-1", "till_reference": "F9", "kind": "refund"}'],
        )
    page = dash.page("pages/events.py")
    page.selectbox(key="ev_selected").select(REFUND).run()
    assert not page.exception, page.exception
    assert any(
        "Rung up on till front-1 with no customer in view: refund of 40.00 USD" in e.value
        for e in page.error
    ), [e.value for e in page.error]
    overview = dash.app().run()
    badges = [m.value for m in overview.markdown if "-badge[" in m.value]
    # the till's findings first (newest first): the unmatched hand-over's tile (its type,
    # its mark), then the refund's, before the newer matched hand-over's
    assert "No sale rung up" in badges[1] and ":material/point_of_sale:" in badges[2], badges
    assert "cash" in badges[3], badges
