"""Analysts' read-only SQL: the statement type is decided by DuckDB's own parser.

A regex on the text would miss `WITH x AS (...) DELETE ...` or comments in front of a
statement; `duckdb.extract_statements` parses the query the way execution will. The
connection is read-only with external access off as a second wall.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass

import duckdb
import pandas as pd

from cashwatch.dashboard.data import connect
from cashwatch.dashboard.session import PageContext, PermissionDenied

# DESCRIBE, SHOW and SUMMARIZE parse as SELECT statements in DuckDB.
ALLOWED = {duckdb.StatementType.SELECT: "SELECT", duckdb.StatementType.EXPLAIN: "EXPLAIN"}
MAX_ROWS = 10_000
TIMEOUT_S = 30.0


class QueryRefused(Exception):
    """Not a single read-only statement, or the query failed; the message says which."""


@dataclass(frozen=True)
class QueryResult:
    frame: pd.DataFrame
    truncated: bool
    elapsed_ms: float


def check_read_only(query: str) -> None:
    """Raise QueryRefused unless `query` is exactly one read statement."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryRefused(f"the query does not parse: {exc}") from exc
    if len(statements) != 1:
        raise QueryRefused(f"one statement at a time, got {len(statements)}")
    kind = statements[0].type
    if kind not in ALLOWED:
        name = getattr(kind, "name", str(kind))
        raise QueryRefused(f"{name} statements are refused: this page only reads "
                           "(SELECT, WITH, DESCRIBE, SHOW, EXPLAIN, SUMMARIZE)")


def run_query(ctx: PageContext, query: str) -> QueryResult:
    ctx.require("run_sql")
    if ctx.user.limited_to_sites:
        raise PermissionDenied("SQL reads every site; accounts limited to sites "
                               f"({', '.join(ctx.user.sites)}) use the Events page")
    check_read_only(query)
    started = time.perf_counter()
    with connect(ctx.data_dir) as conn:
        timer = threading.Timer(TIMEOUT_S, conn.interrupt)  # DuckDB has no statement timeout
        timer.start()
        try:
            cursor = conn.execute(query)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchmany(MAX_ROWS + 1)
        except duckdb.InterruptException as exc:
            raise QueryRefused(f"the query ran longer than {TIMEOUT_S:.0f} s and was stopped") \
                from exc
        except duckdb.Error as exc:
            raise QueryRefused(f"the query failed: {exc}") from exc
        finally:
            timer.cancel()
    frame = pd.DataFrame(rows[:MAX_ROWS], columns=columns)
    return QueryResult(frame, len(rows) > MAX_ROWS, (time.perf_counter() - started) * 1000)


def to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    # nested values (lists, JSON) as text: Parquet needs one type per column
    safe = frame.apply(lambda col: col.astype(str) if col.dtype == object else col)
    safe.to_parquet(buffer, index=False)
    return buffer.getvalue()
