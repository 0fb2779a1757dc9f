"""The SQL page's limits: an analyst's query can neither starve ingest nor exhaust the box.

Real parts throughout: a real DuckDB file written by the real Ingestor from a real
journal, and the page's own `run_query` running the analyst's statement.
"""

from __future__ import annotations

import contextlib
import resource
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from cashwatch.auth import LOCAL_ADMIN
from cashwatch.config import load_config
from cashwatch.dashboard import sql
from cashwatch.dashboard.session import PageContext
from cashwatch.store.journal import JournalWriter
from tests.dashboard import builders
from tests.dashboard.conftest import REPO
from tests.harness import wait_for
from tests.store.builders import make_record, query

# Billions of rows: minutes of work, so it is still running whenever the test looks.
ENDLESS = "SELECT sum(hash(x)) FROM range(200_000_000_000) t(x)"
INGEST_DEADLINE_S = 2.0


@pytest.fixture
def ctx(tmp_path: Path) -> PageContext:
    config = builders.write_config(tmp_path / "cashwatch.toml")
    builders.create_history(tmp_path)
    return PageContext(load_config(config), LOCAL_ADMIN)


class AnalystQuery:
    """`run_query` in a thread, as a Streamlit session's script thread runs it."""

    def __init__(self, ctx: PageContext, text: str) -> None:
        self.outcome: Any = None
        self.thread = threading.Thread(target=self._run, args=(ctx, text), daemon=True)

    def _run(self, ctx: PageContext, text: str) -> None:
        try:
            self.outcome = sql.run_query(ctx, text)
        except Exception as exc:  # the test reads it
            self.outcome = exc

    def cpu_s(self) -> float:
        """CPU the query's child process has used: starting, then DuckDB at work (the
        ingest process is not yet started when this is asked)."""
        total = 0.0
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                times = child.cpu_times()
                total += float(times.user + times.system)
        return total


@pytest.fixture
def analyst(ctx: PageContext, monkeypatch: pytest.MonkeyPatch) -> Iterator[AnalystQuery]:
    monkeypatch.setattr(sql, "TIMEOUT_S", 8.0)  # the endless query stops by itself
    running = AnalystQuery(ctx, ENDLESS)
    running.thread.start()
    # executing, not just started: it has burnt CPU inside DuckDB
    wait_for(
        lambda: running.cpu_s() >= 1.5 or not running.thread.is_alive(),
        20,
        "the analyst's query to be executing",
    )
    assert running.thread.is_alive(), f"the query ended at once: {running.outcome}"
    yield running
    running.thread.join(30)


INGEST_LOOP = """
import sys, time
from pathlib import Path
from cashwatch.store.ingest import Ingestor
ingestor = Ingestor(Path(sys.argv[1]))
print("ready", flush=True)
while True:  # the manager's loop: poll, then wait a quarter second
    if ingestor.poll():
        print(time.time(), flush=True)
    time.sleep(0.25)
"""


@pytest.fixture
def ingest_process(ctx: PageContext) -> Iterator[subprocess.Popen[str]]:
    """The real Ingestor in a process of its own, as in the manager: the DuckDB lock is
    taken between processes, so this is what an analyst's query would hold up."""
    process = subprocess.Popen(
        [sys.executable, "-c", INGEST_LOOP, str(ctx.data_dir)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    yield process
    process.kill()
    process.wait(10)


def _next_ingest(process: subprocess.Popen[str], timeout_s: float) -> float | None:
    """Epoch time of the ingestor's next applied poll, None when none within the timeout."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout_s)
    return float(process.stdout.readline()) if ready else None


def test_an_event_reaches_the_database_while_an_analyst_query_runs(
    ctx: PageContext, ingest_process: subprocess.Popen[str], analyst: AnalystQuery
) -> None:
    writer = JournalWriter(ctx.data_dir, "cam-a")
    writer.emit_event(make_record("fire-while-querying", camera_id="cam-a"))
    journaled = time.time()
    writer.close()
    stored = _next_ingest(ingest_process, timeout_s=7.0)  # the query runs for 8 s
    assert stored is not None, (
        f"the event was not ingested while the analyst's query ran ({analyst.outcome})"
    )
    assert analyst.thread.is_alive(), "the query must still be running: it overlapped ingest"
    assert stored - journaled < INGEST_DEADLINE_S, f"ingest waited {stored - journaled:.2f} s"
    assert query(ctx.data_dir, "SELECT 1 FROM events WHERE event_id = 'fire-while-querying'")


def test_the_endless_query_is_stopped_with_a_clear_message(analyst: AnalystQuery) -> None:
    analyst.thread.join(30)
    assert isinstance(analyst.outcome, sql.QueryRefused)
    assert "longer than 8 s" in str(analyst.outcome)


def test_the_limits_hold_and_cannot_be_lifted(ctx: PageContext) -> None:
    result = sql.run_query(
        ctx,
        "SELECT current_setting('memory_limit') AS memory, "
        "current_setting('threads') AS threads, "
        "current_setting('max_temp_directory_size') AS temp, "
        "current_setting('enable_external_access') AS files, "
        "current_setting('lock_configuration') AS locked",
    )
    row = result.frame.iloc[0].to_dict()
    assert row["memory"].startswith("488.2 MiB")  # 512 MB
    assert int(row["threads"]) == sql.THREADS
    assert row["temp"].startswith("1.9 GiB")
    assert row["files"] is False or str(row["files"]).lower() == "false"
    assert row["locked"] is True or str(row["locked"]).lower() == "true"
    # a SET is refused as a statement; nothing else can change a locked configuration
    with pytest.raises(sql.QueryRefused, match="SET statements are refused"):
        sql.run_query(ctx, "SET memory_limit = '100GB'")


@pytest.mark.parametrize(
    "query",
    [
        "EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1",
        "EXPLAIN ANALYZE CHECKPOINT",
        "EXPLAIN ANALYSE CALL pragma_version()",
        "/* a */ EXPLAIN /* b */ ANALYZE /* c */ CHECKPOINT",
        "EXPLAIN (FORMAT json) DELETE FROM events",
    ],
)
def test_explain_analyze_never_runs_what_the_page_refuses(ctx: PageContext, query: str) -> None:
    """EXPLAIN ANALYZE executes the statement it explains."""
    with pytest.raises(sql.QueryRefused, match="EXPLAIN of a statement this page does not run"):
        sql.run_query(ctx, query)


def test_explain_analyze_of_a_select_runs(ctx: PageContext) -> None:
    result = sql.run_query(ctx, "EXPLAIN ANALYZE /* why */ SELECT count(*) FROM events")
    assert len(result.frame) == 1


def test_a_query_needing_too_much_memory_is_refused_clearly(
    ctx: PageContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "MEMORY_LIMIT_MB", 64)
    monkeypatch.setattr(sql, "MAX_TEMP_MB", 64)
    with pytest.raises(sql.QueryRefused, match="more than the 64 MB of memory"):
        sql.run_query(ctx, "SELECT list(x) FROM range(100_000_000) t(x)")
    with pytest.raises(sql.QueryRefused, match="64 MB of temporary disk"):
        sql.run_query(
            ctx, "SELECT x, repeat('ab', 100) FROM range(30_000_000) t(x) ORDER BY hash(x)"
        )


def test_huge_values_never_grow_the_dashboard(
    ctx: PageContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's memory limit does not count the strings of a result being built (600 MB
    under a 64 MB limit): the query runs in a child whose address space is capped."""
    monkeypatch.setattr(sql, "MEMORY_LIMIT_MB", 64)
    monkeypatch.setattr(sql, "CHILD_HEADROOM_MB", 128)
    sql.run_query(ctx, "SELECT 1")  # the copy is made and the child path warmed
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for text in (
        "SELECT repeat('x', 20_000_000) FROM range(20)",
        "SELECT repeat('x', 1_000_000_000) FROM range(64)",
    ):  # 64 GB
        with pytest.raises(sql.QueryRefused, match="more than the 64 MB of memory"):
            sql.run_query(ctx, text)
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb) / 1024
    assert grew_mb < 50, f"the dashboard's process grew by {grew_mb:.0f} MB"
    child_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    cap_mb = 64 + sql.MAX_RESULT_MB + 128 + 400  # the limits, and a loaded interpreter
    assert child_peak_mb < cap_mb, f"a query's process peaked at {child_peak_mb:.0f} MB"


def test_a_timeout_while_rows_stream_is_a_clear_refusal(
    ctx: PageContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interrupt arrives while pyarrow's reader pulls batches: it surfaced as a bare
    OSError("INTERRUPT Error: Interrupted!") and a traceback on the page."""
    monkeypatch.setattr(sql, "TIMEOUT_S", 2.0)
    with pytest.raises(sql.QueryRefused, match="longer than 2 s"):
        sql.run_query(ctx, "SELECT x FROM range(100000000000) t(x) WHERE x % 50000000 = 0")


def test_the_bytes_returned_are_capped(ctx: PageContext) -> None:
    result = sql.run_query(ctx, "SELECT repeat('x', 20_000_000) AS big FROM range(10)")
    assert result.truncated
    assert len(result.frame) == 1  # one 20 MB value fits in 32 MB, two do not
    assert result.frame["big"].str.len().sum() <= sql.MAX_RESULT_MB * 2**20


def test_rows_are_capped(ctx: PageContext) -> None:
    result = sql.run_query(ctx, "SELECT * FROM range(50_000)")
    assert result.truncated and len(result.frame) == sql.MAX_ROWS
    whole = sql.run_query(ctx, "SELECT * FROM range(100)")
    assert not whole.truncated and len(whole.frame) == 100


def test_the_copy_follows_new_events(ctx: PageContext) -> None:
    """Queries read a copy; an event ingested since is in the next query's copy."""
    before = sql.run_query(ctx, "SELECT count(*) AS n FROM events")
    writer = JournalWriter(ctx.data_dir, "cam-a")
    writer.emit_event(make_record("later-fire", camera_id="cam-a"))
    writer.close()
    from cashwatch.store.ingest import Ingestor

    assert Ingestor(ctx.data_dir).poll() == 1
    after = sql.run_query(ctx, "SELECT count(*) AS n FROM events")
    assert int(after.frame["n"][0]) == int(before.frame["n"][0]) + 1
    assert after.as_of >= before.as_of


@pytest.mark.parametrize(
    "query",
    [
        'SELECT camera_id AS "cam:era", count(*) AS "n:Q" FROM events GROUP BY ALL',
        'SELECT camera_id AS "a.b", count(*) AS "c[0]" FROM events GROUP BY ALL',
        "SELECT camera_id AS a, count(*) AS a FROM events GROUP BY ALL",
    ],
)
def test_awkward_column_names_show_no_traceback(dash: Any, query: str) -> None:
    at = dash.page("pages/sql.py")
    at.text_area(key="sql_query").input(query)
    at.button(key="sql_run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.dataframe, "the rows are shown"
