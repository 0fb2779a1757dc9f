"""The SQL page's chart of a query result: readable or none."""

from __future__ import annotations

import pandas as pd

from cashwatch.dashboard.charts import TYPE_COLOURS, result_chart


def _spec(frame: pd.DataFrame) -> dict:
    chart = result_chart(frame)
    assert chart is not None
    return dict(chart.to_dict())


def test_counts_per_hour_and_type_are_bars_coloured_by_type() -> None:
    frame = pd.DataFrame({"hour": ["10:00", "10:00", "11:00"],
                          "event_type": ["fire", "cash", "fire"], "events": [3, 1, 2]})
    spec = _spec(frame)
    assert spec["mark"]["type"] == "bar"
    assert spec["encoding"]["x"]["field"] == "hour"
    assert spec["encoding"]["color"]["field"] == "event_type"
    assert spec["encoding"]["color"]["scale"]["range"] == list(TYPE_COLOURS.values())


def test_a_time_column_gives_a_line_over_time() -> None:
    frame = pd.DataFrame({"day": pd.to_datetime(["2026-11-28", "2026-11-29"]),
                          "events": [4, 7]})
    spec = _spec(frame)
    assert spec["mark"]["type"] == "line" and spec["encoding"]["x"]["type"] == "temporal"


def test_one_row_per_id_gets_no_chart() -> None:
    frame = pd.DataFrame({"event_id": [f"e{i}" for i in range(100)],
                          "confidence": [0.5] * 100})
    assert result_chart(frame) is None
    assert result_chart(pd.DataFrame({"n": [1, 2]})) is None, "nothing to put along x"
