"""Analysts' read-only SQL: the statement type is decided by DuckDB's own parser.

A regex on the text would miss `WITH x AS (...) DELETE ...` or comments in front of a
statement; `duckdb.extract_statements` parses the query the way execution will.

An analyst's query never runs on `cashwatch.duckdb` itself: while any process has that
file open the manager cannot ingest, and a query may run for TIMEOUT_S. It runs on this
dashboard's copy of the file (`data.database_copy`, refreshed when the file changes), so
ingest waits at most for the copy. The copy is opened read-only, without external file
access, with a memory, thread and temp-disk limit, and the configuration locked so that
no statement can lift them; what comes back is capped in rows and in bytes.

DuckDB's memory_limit does not count the strings of the vector being returned
(`SELECT repeat('x', 20_000_000) FROM range(20)` took 600 MB under a 64 MB limit), so
the query runs in a child process (`python -m cashwatch.dashboard.sql`) whose address
space is capped (RLIMIT_AS): a query that builds huge values fails there, and the
dashboard, which serves every other session, never grows. The child is killed when it
outlives the timeout; it hands back at most the capped bytes as an Arrow IPC stream.
This module imports only duckdb, pyarrow and the small cashwatch.i18n at the top so the
child starts in ~0.5 s. The child words its refusals in the dashboard session's language.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from cashwatch.i18n import _, language, speaking, translations

if TYPE_CHECKING:  # the child process must not import pandas, Streamlit and the store
    import pandas as pd

    from cashwatch.dashboard.data import DatabaseCopy
    from cashwatch.dashboard.session import PageContext

# DESCRIBE, SHOW and SUMMARIZE parse as SELECT statements in DuckDB.
ALLOWED = {duckdb.StatementType.SELECT: "SELECT", duckdb.StatementType.EXPLAIN: "EXPLAIN"}
MAX_ROWS = 10_000
MAX_RESULT_MB = 32  # what reaches pandas and the browser; 10 rows could be 200 MB
TIMEOUT_S = 30.0
# The child's address space beyond what Python, DuckDB and pyarrow take once loaded:
# DuckDB's memory limit, the result being capped, and thread stacks and allocator slack.
CHILD_HEADROOM_MB = 512
CHILD_GRACE_S = 5.0  # after TIMEOUT_S the child interrupts itself; this long, it is killed
# Shared by every query of this dashboard process (one DuckDB instance per copy): a
# query can use a core and half a GB, never the box the cameras run on.
MEMORY_LIMIT_MB = 512
THREADS = 1
MAX_TEMP_MB = 2048  # spilled sorts and joins, in the copy's own folder
BATCH_ROWS = 64  # the byte cap is checked this often
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
        raise QueryRefused(_("the query does not parse: {error}").format(error=exc)) from exc
    if len(statements) != 1:
        raise QueryRefused(_("one statement at a time, got {count}").format(count=len(statements)))
    kind = statements[0].type
    if kind not in ALLOWED:
        name = getattr(kind, "name", str(kind))
        raise QueryRefused(
            _(
                "{statement} statements are refused: this page only reads "
                "(SELECT, WITH, DESCRIBE, SHOW, EXPLAIN, SUMMARIZE)"
            ).format(statement=name)
        )
    if kind == duckdb.StatementType.EXPLAIN:
        # EXPLAIN ANALYZE executes what it explains: `EXPLAIN ANALYZE CHECKPOINT` would
        # write. The explained statement must itself be one this page runs.
        try:
            check_read_only(_explained(statements[0].query))
        except QueryRefused as exc:
            raise QueryRefused(
                _("EXPLAIN of a statement this page does not run: {error}").format(error=exc)
            ) from exc


def _explained(statement: str) -> str:
    """The statement an EXPLAIN [ANALYZE] [(options)] explains, found by DuckDB's own
    tokenizer (comments are tokens of their own, so they cannot hide a keyword)."""
    tokens = duckdb.tokenize(statement)
    ends = [offset for offset, _kind in tokens[1:]] + [len(statement)]
    kept = [
        (offset, statement[offset:end].strip().upper())
        for (offset, kind), end in zip(tokens, ends, strict=True)
        if kind != duckdb.token_type.comment
    ]
    offsets, words = [offset for offset, _word in kept], [word for _offset, word in kept]
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
        raise QueryRefused(_("EXPLAIN of nothing: write EXPLAIN [ANALYZE] SELECT ..."))
    return statement[offsets[position] :]


def run_query(ctx: PageContext, query: str) -> QueryResult:
    from cashwatch.dashboard.data import leased_copy
    from cashwatch.dashboard.session import PermissionDenied

    ctx.require("run_sql")
    if ctx.user.limited_to_sites:
        raise PermissionDenied(
            _(
                "SQL reads every site; accounts limited to sites ({sites}) use the Events page"
            ).format(sites=", ".join(ctx.user.sites))
        )
    check_read_only(query)
    started = time.perf_counter()
    with leased_copy(ctx.data_dir) as copy:
        table, truncated = run_in_child(copy.path, query)
    return QueryResult(
        _to_frame(table), truncated, (time.perf_counter() - started) * 1000, copy.as_of
    )


def _limits() -> dict[str, Any]:
    """Read when each query starts (tests and the page may change them)."""
    return {
        "timeout_s": TIMEOUT_S,
        "memory_mb": MEMORY_LIMIT_MB,
        "temp_mb": MAX_TEMP_MB,
        "rows": MAX_ROWS,
        "result_mb": MAX_RESULT_MB,
        "headroom_mb": CHILD_HEADROOM_MB,
    }


def run_in_child(path: Path, query: str) -> tuple[pa.Table, bool]:
    """The query run by a child process on the copy at `path`: its capped result, and
    whether more was left. QueryRefused when it failed, ran out of memory or time."""
    request = json.dumps(
        {"path": str(path), "query": query, "limits": _limits(), "language": language()}
    )
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:  # no process left to start (ulimit, memory): say so, no traceback
        raise QueryRefused(_("the query could not be started: {error}").format(error=exc)) from exc
    try:
        out, err = child.communicate(request.encode(), timeout=TIMEOUT_S + CHILD_GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise QueryRefused(_ran_too_long()) from None
    finally:
        if child.poll() is None:  # an exception of our own (KeyboardInterrupt): no orphan
            child.kill()
            child.wait()
    return _answer(child.returncode, out, err)


def _answer(returncode: int, out: bytes, err: bytes) -> tuple[pa.Table, bool]:
    header, _newline, body = out.partition(b"\n")
    if returncode != 0 or not header:
        # killed by the address-space cap (std::bad_alloc aborts), or crashed
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {returncode}"]
        raise QueryRefused(
            _(
                "the query needs more than the {memory} MB of memory this page "
                "allows, or failed ({detail}): aggregate or filter more, or select "
                "fewer or shorter values"
            ).format(memory=MEMORY_LIMIT_MB, detail=detail[0][:200])
        )
    answer = json.loads(header)
    if "error" in answer:
        raise QueryRefused(answer["error"])
    with pa.ipc.open_stream(body) as reader:
        return reader.read_all(), bool(answer["truncated"])


def _child_main() -> None:
    """In the child: cap the address space, run the query, write a JSON header line and
    the Arrow IPC stream (or the error) to stdout."""
    global TIMEOUT_S, MEMORY_LIMIT_MB, MAX_TEMP_MB, MAX_ROWS, MAX_RESULT_MB
    request = json.loads(sys.stdin.buffer.read())
    limits = request["limits"]
    TIMEOUT_S, MEMORY_LIMIT_MB, MAX_TEMP_MB = (
        limits["timeout_s"],
        limits["memory_mb"],
        limits["temp_mb"],
    )
    MAX_ROWS, MAX_RESULT_MB = limits["rows"], limits["result_mb"]
    code = str(request.get("language") or "en")
    translations(code)  # its catalogue is read before the address space is capped
    _cap_address_space(limits["memory_mb"] + limits["result_mb"] + limits["headroom_mb"])
    out = sys.stdout.buffer
    try:
        with speaking(code), analyst_connection(Path(request["path"])) as conn:
            table, truncated = _execute(conn, request["query"])
    except QueryRefused as exc:
        out.write(json.dumps({"error": str(exc)}).encode() + b"\n")
        return
    out.write(json.dumps({"truncated": truncated}).encode() + b"\n")
    with pa.ipc.new_stream(out, table.schema) as writer:
        writer.write_table(table)


def _cap_address_space(extra_mb: int) -> None:
    """What is mapped now (the interpreter and its libraries) plus `extra_mb`."""
    with open("/proc/self/status") as status:
        size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    cap = size_kb * 1024 + extra_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


@contextlib.contextmanager
def analyst_connection(copy: DatabaseCopy | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the copy with the limits on, locked; closed on exit."""
    path = copy if isinstance(copy, Path) else copy.path
    spill = path.with_suffix(".spill")
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": f"{MEMORY_LIMIT_MB}MB",
        "threads": THREADS,
        "max_temp_directory_size": f"{MAX_TEMP_MB}MB",
        "temp_directory": str(spill),
    }
    with _open_lock:
        try:
            conn = duckdb.connect(str(path), read_only=True, config=config)
        except duckdb.Error as exc:
            raise QueryRefused(
                _("the copy of the history cannot be opened: {error}").format(error=exc)
            ) from exc
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
        raise QueryRefused(_("the SQL connection could not be locked down; not running it"))


def _setting(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = conn.execute("SELECT current_setting(?)", [name]).fetchall()
    return str(rows[0][0]).lower() == "true"


def _execute(conn: duckdb.DuckDBPyConnection, query: str) -> tuple[pa.Table, bool]:
    timer = threading.Timer(TIMEOUT_S, conn.interrupt)  # DuckDB has no statement timeout
    timer.start()
    try:
        return _read_capped(conn.sql(query).to_arrow_reader(BATCH_ROWS))
    except (pa.ArrowException, OSError) as exc:
        # an error while streaming comes through pyarrow's reader, not as duckdb.Error:
        # an interrupt as OSError("INTERRUPT Error: Interrupted!")
        if "INTERRUPT" in str(exc):
            raise QueryRefused(_ran_too_long()) from exc
        raise QueryRefused(
            _("the query failed while its rows were read: {error}").format(error=exc)
        ) from exc
    except duckdb.InterruptException as exc:
        raise QueryRefused(_ran_too_long()) from exc
    except duckdb.OutOfMemoryException as exc:
        raise QueryRefused(
            _(
                "the query needs more than the {memory} MB of memory and "
                "{temp} MB of temporary disk this page allows: aggregate or filter "
                "more (GROUP BY, WHERE), or select fewer columns"
            ).format(memory=MEMORY_LIMIT_MB, temp=MAX_TEMP_MB)
        ) from exc
    except duckdb.Error as exc:
        raise QueryRefused(_("the query failed: {error}").format(error=exc)) from exc
    finally:
        timer.cancel()


def _ran_too_long() -> str:
    return _("the query ran longer than {seconds} s and was stopped").format(
        seconds=f"{TIMEOUT_S:.0f}"
    )


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
    return str(frame.to_csv(index=False)).encode("utf-8")


def to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    # nested values (lists, JSON) as text: Parquet needs one type per column
    safe = frame.apply(lambda col: col.astype(str) if col.dtype == object else col)
    safe.to_parquet(buffer, index=False)
    return buffer.getvalue()


if __name__ == "__main__":
    _child_main()
