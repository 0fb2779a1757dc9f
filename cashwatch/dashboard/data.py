"""History for the dashboard: short read-only DuckDB connections, and review submission.

The manager is the only writer and holds its connection only for short transactions;
while it does, DuckDB refuses any other opener at once (see FACTS.md), so a reader
retries for a moment. External file access is off on these connections: the SQL page
runs analysts' queries here and must not become a way to read the server's files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

DB_FILE = "cashwatch.duckdb"
REVIEW_STATUSES = ("pending", "confirmed", "false_positive")
_LOCK_MARKERS = ("lock", "Conflicting")


class HistoryUnavailable(Exception):
    """The database cannot be read now (missing, or held by the manager too long)."""


def db_path(data_dir: Path) -> Path:
    return Path(data_dir) / DB_FILE


def _connect_with_retry(path: Path, timeout_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=True,
                                  config={"enable_external_access": False})
        except duckdb.Error as exc:
            if not any(marker in str(exc) for marker in _LOCK_MARKERS):
                raise HistoryUnavailable(f"cannot open {path}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise HistoryUnavailable(
                    f"{path} stayed locked by the manager for {timeout_s:.1f} s; "
                    "try again in a moment") from exc
        time.sleep(delay)  # back-off between attempts to take a lock, not a wait for a result
        delay = min(delay * 2, 0.2)


@contextlib.contextmanager
def connect(data_dir: Path, timeout_s: float = 2.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection, closed on exit. Raises HistoryUnavailable."""
    path = db_path(data_dir)
    if not path.exists():
        raise HistoryUnavailable(f"no history yet ({path} does not exist: "
                                 "the manager creates it on its first run)")
    conn = _connect_with_retry(path, timeout_s)
    try:
        yield conn
    finally:
        conn.close()


def query_df(data_dir: Path, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    with connect(data_dir) as conn:
        return conn.execute(sql, list(params)).df()


@dataclass(frozen=True)
class EventFilter:
    start: dt.datetime
    end: dt.datetime
    sites: tuple[str, ...] = ()          # empty: all
    cameras: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    review: tuple[str, ...] = ()
    allowed_sites: tuple[str, ...] = ()  # the account's limit; empty: all
    limit: int = 1000

    def where(self) -> tuple[str, list[Any]]:
        clauses = ["started_at >= ?", "started_at < ?"]
        params: list[Any] = [self.start, self.end]
        for column, values in (("site", self.sites), ("camera_id", self.cameras),
                               ("event_type", self.types), ("review_status", self.review),
                               ("site", self.allowed_sites)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        return " AND ".join(clauses), params


EVENT_COLUMNS = ("event_id, camera_id, site, event_type, started_at, ended_at, confidence, "
                 "review_status, notes, clip_path, clip_error, snapshot_path")


def list_events(data_dir: Path, flt: EventFilter) -> pd.DataFrame:
    where, params = flt.where()
    return query_df(data_dir, f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} "
                              f"ORDER BY started_at DESC LIMIT {int(flt.limit)}", params)


def get_event(data_dir: Path, event_id: str) -> dict[str, Any] | None:
    frame = query_df(data_dir, "SELECT * FROM events WHERE event_id = ?", [event_id])
    if frame.empty:
        return None
    row = frame.iloc[0].to_dict()
    if isinstance(row.get("details"), str):
        with contextlib.suppress(ValueError):
            row["details"] = json.loads(row["details"])
    return row


def events_today(data_dir: Path) -> dict[str, int]:
    """Events per camera since local midnight."""
    midnight = dt.datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    frame = query_df(data_dir, "SELECT camera_id, count(*) AS n FROM events "
                               "WHERE started_at >= ? GROUP BY camera_id", [midnight])
    return {str(row.camera_id): int(row.n) for row in frame.itertuples()}


def filter_options(data_dir: Path) -> dict[str, list[str]]:
    """Distinct sites, cameras and types present in the history, for the filters."""
    with connect(data_dir) as conn:
        return {column: [str(v[0]) for v in conn.execute(
                    f"SELECT DISTINCT {column} FROM events WHERE {column} IS NOT NULL "
                    f"ORDER BY 1").fetchall()]
                for column in ("site", "camera_id", "event_type")}


def worker_runs(data_dir: Path, since: dt.datetime) -> pd.DataFrame:
    return query_df(data_dir, "SELECT * FROM worker_runs WHERE started_at >= ? "
                              "ORDER BY started_at", [since])


def evidence_file(data_dir: Path, relative: str | None) -> Path | None:
    """An event's clip or snapshot when it exists inside the data_dir, else None."""
    if not relative or (isinstance(relative, float) and pd.isna(relative)):
        return None
    root = Path(data_dir).resolve()
    path = (root / str(relative)).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def submit_review(data_dir: Path, event_id: str, review_status: str, notes: str | None) -> None:
    """Hand a review to the manager (the only DuckDB writer) through the `_review` journal."""
    if review_status not in REVIEW_STATUSES:
        raise ValueError(f"review status {review_status!r}; valid: {', '.join(REVIEW_STATUSES)}")
    try:
        from cashwatch.store import journal  # the store's writer, once it exists
    except ImportError:
        journal = None  # type: ignore[assignment]
    if journal is not None and hasattr(journal, "submit_review"):
        journal.submit_review(data_dir, event_id, review_status, notes)
        return
    _append_review(data_dir, event_id, review_status, notes)


def _append_review(data_dir: Path, event_id: str, review_status: str, notes: str | None) -> None:
    now = time.time()
    folder = Path(data_dir) / "journal" / "_review"
    folder.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"kind": "review", "event_id": event_id, "review_status": review_status,
                       "notes": notes, "reviewed_at": now}) + "\n"
    path = folder / f"{time.strftime('%Y%m%d', time.localtime(now))}.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))  # one write: lines never interleave
        os.fsync(fd)
    finally:
        os.close(fd)
