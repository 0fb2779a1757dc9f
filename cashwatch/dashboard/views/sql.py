"""The SQL page: read-only queries over the history for analysts."""

from __future__ import annotations

import datetime as dt
import re

import altair as alt
import pandas as pd
import streamlit as st

from cashwatch.dashboard import sql
from cashwatch.dashboard.charts import result_chart
from cashwatch.dashboard.data import HistoryUnavailable
from cashwatch.dashboard.session import PageContext, PermissionDenied, guard_page

EXAMPLE = (
    "SELECT camera_id, event_type, count(*) AS events\nFROM events\n"
    "GROUP BY ALL\nORDER BY events DESC"
)
# Altair reads `name:Q` as a type and `a.b` / `a[0]` as nested fields
CHART_UNSAFE = re.compile(r"[:.\[\]\\]")


def chart_for(frame: pd.DataFrame) -> alt.Chart | None:
    """The result's chart, drawn from column names Altair cannot misread; None when there
    is none, or when the chart cannot be made (the table is what matters)."""
    safe = frame.rename(columns=lambda c: CHART_UNSAFE.sub("_", str(c)))
    if safe.columns.duplicated().any():
        return None  # `a:b` and `a_b` would fold into one column
    try:
        return result_chart(safe)
    except ValueError:
        return None


def _show_result(ctx: PageContext, result: sql.QueryResult) -> None:
    as_of = dt.datetime.fromtimestamp(result.as_of).strftime("%H:%M:%S")
    st.caption(
        f"{len(result.frame):,} rows in {result.elapsed_ms:.0f} ms, history as of "
        f"{as_of}"
        + (f" (cut at {sql.MAX_ROWS:,} rows or {sql.MAX_RESULT_MB} MB)" if result.truncated else "")
    )
    st.dataframe(result.frame, width="stretch", hide_index=True)
    chart = chart_for(result.frame)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    if ctx.user.can("export"):
        cols = st.columns(2)
        cols[0].download_button(
            "Download CSV", sql.to_csv(result.frame), "query.csv", mime="text/csv"
        )
        cols[1].download_button(
            "Download Parquet",
            sql.to_parquet(result.frame),
            "query.parquet",
            mime="application/vnd.apache.parquet",
        )


def render() -> None:
    ctx = guard_page("run_sql")
    st.title("SQL")
    st.caption(
        "Read-only: SELECT, WITH, DESCRIBE, SHOW, EXPLAIN, SUMMARIZE. "
        f"At most {sql.MAX_ROWS:,} rows and {sql.MAX_RESULT_MB} MB, "
        f"{sql.TIMEOUT_S:.0f} s, {sql.MEMORY_LIMIT_MB} MB of memory. Queries read a "
        "copy of the history taken when it last changed, so they never hold up "
        "recording."
    )
    query = st.text_area("Query", value=EXAMPLE, height=160, key="sql_query")
    if st.button("Run", key="sql_run", type="primary"):
        try:
            st.session_state["sql_result"] = sql.run_query(ctx, query)
        except (sql.QueryRefused, PermissionDenied, HistoryUnavailable) as exc:
            st.session_state.pop("sql_result", None)
            st.error(str(exc))
    result = st.session_state.get("sql_result")
    if result is not None:
        _show_result(ctx, result)
