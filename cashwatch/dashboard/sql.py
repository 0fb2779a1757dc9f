"""Analysts' read-only SQL: the statement type is decided by DuckDB's own parser.

A regex on the text would miss `WITH x AS (...) DELETE ...` or comments in front of a
statement; `duckdb.extract_statements` parses the query the way execution will.

An analyst's query never runs on `cashwatch.duckdb` itself: while any process has that
file open the manager cannot ingest, and a query may run for TIMEOUT_S. It runs on this
dashboard's copy of the file (`data.database_copy`, refreshed when the file changes), so
ingest waits at most for the copy. The copy is opened read-only, without external file
access, with a memory, thread and temp-disk limit, and the configuration locked so that
no statement can lift them; what comes back is capped in rows and in bytes.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import pandas as pd
import pyarrow as pa

from cashwatch.dashboard.data import DatabaseCopy, database_copy
from cashwatch.dashboard.session import PageContext, PermissionDenied

# DESCRIBE, SHOW and SUMMARIZE parse as SELECT statements in DuckDB.
ALLOWED = {duckdb.StatementType.SELECT: "SELECT", duckdb.StatementType.EXPLAIN: "EXPLAIN"}
MAX_ROWS = 10_000
MAX_RESULT_MB = 32     # what reaches pandas and the browser; 10 rows could be 200 MB
# DuckDB's memory_limit bounds hash tables, sorts and lists, not the strings of the
# vector being returned: those are bounded by the byte cap only once they are built.
TIMEOUT_S = 30.0
# Shared by every query of this dashboard process (one DuckDB instance per copy): a
# query can use a core and half a GB, never the box the cameras run on.
MEMORY_LIMIT_MB = 512
THREADS = 1
MAX_TEMP_MB = 2048     # spilled sorts and joins, in the copy's own folder
BATCH_ROWS = 64        # the byte cap is checked this often
_open_lock = threading.Lock()  # the first connection to a copy configures its instance


class QueryRefused(Exception):
    """Not a single read-only statement, or the query failed; the message says which."""


@dataclass(frozen=True)
class QueryResult:
    frame: pd.DataFrame
    truncated: bool
    elapsed_ms: float
    as_of: float  # epoch s: the copy of the history the query read


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
    if kind == duckdb.StatementType.EXPLAIN:
        # EXPLAIN ANALYZE executes what it explains: `EXPLAIN ANALYZE CHECKPOINT` would
        # write. The explained statement must itself be one this page runs.
        try:
            check_read_only(_explained(statements[0].query))
        except QueryRefused as exc:
            raise QueryRefused(f"EXPLAIN of a statement this page does not run: {exc}") \
                from exc


def _explained(statement: str) -> str:
    """The statement an EXPLAIN [ANALYZE] [(options)] explains, found by DuckDB's own
    tokenizer (comments are tokens of their own, so they cannot hide a keyword)."""
    tokens = duckdb.tokenize(statement)
    ends = [offset for offset, _ in tokens[1:]] + [len(statement)]
    kept = [(offset, statement[offset:end].strip().upper())
            for (offset, kind), end in zip(tokens, ends, strict=True)
            if kind != duckdb.token_type.comment]
    offsets, words = [offset for offset, _ in kept], [word for _, word in kept]
    position = 1  # words[0] is EXPLAIN
    if position < len(words) and words[position] in ("ANALYZE", "ANALYSE"):
        position += 1
    if position < len(words) and words[position] == "(":  # an option list
        depth = 1
        while depth and position + 1 < len(words):
            position += 1
            depth += {"(": 1, ")": -1}.get(words[position], 0)
        position += 1
    if position >= len(words):
        raise QueryRefused("EXPLAIN of nothing: write EXPLAIN [ANALYZE] SELECT ...")
    return statement[offsets[position]:]


def run_query(ctx: PageContext, query: str) -> QueryResult:
    ctx.require("run_sql")
    if ctx.user.limited_to_sites:
        raise PermissionDenied("SQL reads every site; accounts limited to sites "
                               f"({', '.join(ctx.user.sites)}) use the Events page")
    check_read_only(query)
    started = time.perf_counter()
    copy = database_copy(ctx.data_dir)
    with analyst_connection(copy) as conn:
        table, truncated = _execute(conn, query)
    return QueryResult(_to_frame(table), truncated, (time.perf_counter() - started) * 1000,
                       copy.as_of)


@contextlib.contextmanager
def analyst_connection(copy: DatabaseCopy) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the copy with the limits on, locked; closed on exit."""
    spill = copy.path.with_suffix(".spill")
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": f"{MEMORY_LIMIT_MB}MB", "threads": THREADS,
        "max_temp_directory_size": f"{MAX_TEMP_MB}MB", "temp_directory": str(spill)}
    with _open_lock:
        try:
            conn = duckdb.connect(str(copy.path), read_only=True, config=config)
        except duckdb.Error as exc:
            raise QueryRefused(f"the copy of the history cannot be opened: {exc}") from exc
        try:
            _lock_down(conn)
        except BaseException:
            conn.close()
            raise
    try:
        yield conn
    finally:
        conn.close()


def _lock_down(conn: duckdb.DuckDBPyConnection) -> None:
    """External access off, then the configuration locked (both are the instance's:
    only the first connection to a copy sets them). Fails closed if they did not hold."""
    if not _setting(conn, "lock_configuration"):
        # temp_directory cannot be set once external access is off: hence not in config
        conn.execute("SET enable_external_access = false")
        conn.execute("SET enable_progress_bar = false")
        conn.execute("SET lock_configuration = true")
    if _setting(conn, "enable_external_access") or not _setting(conn, "lock_configuration"):
        raise QueryRefused("the SQL connection could not be locked down; not running it")


def _setting(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = conn.execute("SELECT current_setting(?)", [name]).fetchall()
    return str(rows[0][0]).lower() == "true"


def _execute(conn: duckdb.DuckDBPyConnection, query: str) -> tuple[pa.Table, bool]:
    timer = threading.Timer(TIMEOUT_S, conn.interrupt)  # DuckDB has no statement timeout
    timer.start()
    try:
        return _read_capped(conn.sql(query).to_arrow_reader(BATCH_ROWS))
    except duckdb.InterruptException as exc:
        raise QueryRefused(f"the query ran longer than {TIMEOUT_S:.0f} s and was stopped") \
            from exc
    except duckdb.OutOfMemoryException as exc:
        raise QueryRefused(
            f"the query needs more than the {MEMORY_LIMIT_MB} MB of memory and "
            f"{MAX_TEMP_MB} MB of temporary disk this page allows: aggregate or filter "
            "more (GROUP BY, WHERE), or select fewer columns") from exc
    except duckdb.Error as exc:
        raise QueryRefused(f"the query failed: {exc}") from exc
    finally:
        timer.cancel()


def _read_capped(reader: pa.RecordBatchReader) -> tuple[pa.Table, bool]:
    """At most MAX_ROWS rows and MAX_RESULT_MB bytes; whether more were left."""
    batches: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in reader:
        fits = _rows_that_fit(batch, MAX_ROWS - rows, MAX_RESULT_MB * 2**20 - size)
        if fits:
            batches.append(batch.slice(0, fits))
            rows += fits
            size += batches[-1].nbytes
        if fits < batch.num_rows:
            return pa.Table.from_batches(batches, reader.schema), True
    return pa.Table.from_batches(batches, reader.schema), False


def _rows_that_fit(batch: pa.RecordBatch, max_rows: int, max_bytes: int) -> int:
    """The most leading rows of `batch` within both budgets (a slice's nbytes counts only
    its own rows), found by bisection."""
    low, high = 0, max(0, min(max_rows, batch.num_rows))
    while low < high:
        middle = (low + high + 1) // 2
        if batch.slice(0, middle).nbytes <= max_bytes:
            low = middle
        else:
            high = middle - 1
    return low


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """The result as pandas, its column names made unique: `SELECT 1 AS a, 2 AS a` is
    valid SQL, but tables and charts find columns by name."""
    frame = table.to_pandas()
    frame.columns = _unique(list(table.column_names))
    return frame


def _unique(names: list[str]) -> list[str]:
    used: set[str] = set()
    result = []
    for name in names:
        candidate, n = name, 1
        while candidate in used:
            n += 1
            candidate = f"{name}_{n}"
        used.add(candidate)
        result.append(candidate)
    return result


def to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    # nested values (lists, JSON) as text: Parquet needs one type per column
    safe = frame.apply(lambda col: col.astype(str) if col.dtype == object else col)
    safe.to_parquet(buffer, index=False)
    return buffer.getvalue()
