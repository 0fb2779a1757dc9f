"""The SQL page's chart of a query result: readable or none."""

from __future__ import annotations

import pandas as pd

from cashwatch.dashboard.charts import events_by_camera, events_by_hour, result_chart

# the event types' colours (cashwatch.core.event_types), as the Overview's badges show them
TYPE_SCALE = {
    "domain": ["cash", "violence", "fire", "tamper", "till_exception"],
    "range": ["#2ca02c", "#d62728", "#ff7f0e", "#9467bd", "#1f77b4"],
}


def _spec(frame: pd.DataFrame) -> dict:
    chart = result_chart(frame)
    assert chart is not None
    return dict(chart.to_dict())


def test_counts_per_hour_and_type_are_bars_coloured_by_type() -> None:
    frame = pd.DataFrame(
        {
            "hour": ["10:00", "10:00", "11:00"],
            "event_type": ["fire", "cash", "fire"],
            "events": [3, 1, 2],
        }
    )
    spec = _spec(frame)
    assert spec["mark"]["type"] == "bar"
    assert spec["encoding"]["x"]["field"] == "hour"
    assert spec["encoding"]["color"]["field"] == "event_type"
    assert spec["encoding"]["color"]["scale"] == TYPE_SCALE


def test_a_time_column_gives_a_line_over_time() -> None:
    frame = pd.DataFrame({"day": pd.to_datetime(["2026-11-28", "2026-11-29"]), "events": [4, 7]})
    spec = _spec(frame)
    assert spec["mark"]["type"] == "line" and spec["encoding"]["x"]["type"] == "temporal"


def test_the_count_is_the_value_and_an_hour_number_the_axis() -> None:
    """`SELECT hour(started_at) h, event_type, count(*) n ... GROUP BY ALL`."""
    frame = pd.DataFrame({"h": [9, 9, 10], "event_type": ["fire", "cash", "fire"], "n": [3, 1, 2]})
    spec = _spec(frame)
    assert spec["encoding"]["y"]["field"] == "n" and spec["encoding"]["x"]["field"] == "h"
    assert spec["encoding"]["color"]["field"] == "event_type"


def test_raw_rows_get_no_chart() -> None:
    """`SELECT * FROM events`: many columns, a time among them; still nothing to plot."""
    rows = 50
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(rows)],
            "camera_id": ["cam-a"] * rows,
            "site": ["lobby"] * rows,
            "event_type": ["fire"] * rows,
            "started_at": pd.date_range("2026-11-29", periods=rows, freq="min"),
            "confidence": [0.5] * rows,
        }
    )
    assert result_chart(frame) is None


def test_one_row_per_id_gets_no_chart() -> None:
    frame = pd.DataFrame({"event_id": [f"e{i}" for i in range(100)], "confidence": [0.5] * 100})
    assert result_chart(frame) is None
    assert result_chart(pd.DataFrame({"n": [1, 2]})) is None, "nothing to put along x"


def test_the_events_charts_colour_each_type_as_the_overview_does() -> None:
    events = pd.DataFrame(
        {
            "camera_id": ["till-1", "till-1", "door"],
            "event_type": ["fire", "cash", "tamper"],
            "started_at": pd.to_datetime(["2026-11-29 10:00"] * 3, utc=True),
        }
    )
    for chart in (events_by_hour(events), events_by_camera(events)):
        assert dict(chart.to_dict())["encoding"]["color"]["scale"] == TYPE_SCALE
