"""The SQL page: read-only queries over the history for analysts."""

from __future__ import annotations

import re

import altair as alt
import pandas as pd
import streamlit as st

from cashwatch.dashboard import sql
from cashwatch.dashboard.charts import result_chart
from cashwatch.dashboard.data import HistoryUnavailable
from cashwatch.dashboard.session import PageContext, PermissionDenied, guard_page
from cashwatch.i18n import _, format_number, format_time, ngettext

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
    rows = len(result.frame)
    summary = ngettext(
        "{rows} row in {ms} ms, history as of {time}",
        "{rows} rows in {ms} ms, history as of {time}",
        rows,
    ).format(
        rows=format_number(rows), ms=f"{result.elapsed_ms:.0f}", time=format_time(result.as_of)
    )
    if result.truncated:
        summary = _("{summary} (cut at {rows} rows or {mb} MB)").format(
            summary=summary, rows=format_number(sql.MAX_ROWS), mb=sql.MAX_RESULT_MB
        )
    st.caption(summary)
    st.dataframe(result.frame, width="stretch", hide_index=True)
    chart = chart_for(result.frame)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    if ctx.user.can("export"):
        cols = st.columns(2)
        cols[0].download_button(
            _("Download CSV"), sql.to_csv(result.frame), "query.csv", mime="text/csv"
        )
        cols[1].download_button(
            _("Download Parquet"),
            sql.to_parquet(result.frame),
            "query.parquet",
            mime="application/vnd.apache.parquet",
        )


def render() -> None:
    ctx = guard_page("run_sql")
    st.title("SQL")
    st.caption(
        _(
            "Read-only: SELECT, WITH, DESCRIBE, SHOW, EXPLAIN, SUMMARIZE. "
            "At most {rows} rows and {mb} MB, {seconds} s, {memory} MB of memory. "
            "Queries read a copy of the history taken when it last changed, so they "
            "never hold up recording."
        ).format(
            rows=format_number(sql.MAX_ROWS),
            mb=sql.MAX_RESULT_MB,
            seconds=f"{sql.TIMEOUT_S:.0f}",
            memory=sql.MEMORY_LIMIT_MB,
        )
    )
    query = st.text_area(_("Query"), value=EXAMPLE, height=160, key="sql_query")
    if st.button(_("Run"), key="sql_run", type="primary"):
        try:
            st.session_state["sql_result"] = sql.run_query(ctx, query)
        except (sql.QueryRefused, PermissionDenied, HistoryUnavailable) as exc:
            st.session_state.pop("sql_result", None)
            st.error(str(exc))
    result = st.session_state.get("sql_result")
    if result is not None:
        _show_result(ctx, result)
