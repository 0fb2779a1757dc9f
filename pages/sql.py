"""SQL: read-only queries over the history for analysts."""

from __future__ import annotations

import streamlit as st

from cashwatch.dashboard import sql
from cashwatch.dashboard.charts import result_chart
from cashwatch.dashboard.data import HistoryUnavailable
from cashwatch.dashboard.session import PermissionDenied, guard_page

EXAMPLE = ("SELECT camera_id, event_type, count(*) AS events\nFROM events\n"
           "GROUP BY ALL\nORDER BY events DESC")

ctx = guard_page("run_sql")
st.title("SQL")
st.caption("Read-only: SELECT, WITH, DESCRIBE, SHOW, EXPLAIN, SUMMARIZE. "
           f"At most {sql.MAX_ROWS:,} rows, {sql.TIMEOUT_S:.0f} s.")
query = st.text_area("Query", value=EXAMPLE, height=160, key="sql_query")
if st.button("Run", key="sql_run", type="primary"):
    try:
        st.session_state["sql_result"] = sql.run_query(ctx, query)
    except (sql.QueryRefused, PermissionDenied, HistoryUnavailable) as exc:
        st.session_state.pop("sql_result", None)
        st.error(str(exc))
result = st.session_state.get("sql_result")
if result is not None:
    st.caption(f"{len(result.frame):,} rows in {result.elapsed_ms:.0f} ms"
               + (" (truncated)" if result.truncated else ""))
    st.dataframe(result.frame, width="stretch", hide_index=True)
    chart = result_chart(result.frame)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    if ctx.user.can("export"):
        cols = st.columns(2)
        cols[0].download_button("Download CSV", sql.to_csv(result.frame), "query.csv",
                                mime="text/csv")
        cols[1].download_button("Download Parquet", sql.to_parquet(result.frame),
                                "query.parquet", mime="application/vnd.apache.parquet")
