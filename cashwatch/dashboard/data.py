"""History for the dashboard: short read-only DuckDB connections, and review submission.

Connections come from the store (`connect_readonly` retries while the manager writes).
External file access is switched off on each one: the SQL page runs analysts' queries
here and must not become a way to read the server's files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from cashwatch.evidence.storage import is_url, local_evidence, read_evidence
from cashwatch.store import db, journal
from cashwatch.store.journal import REVIEW_STATUSES

__all__ = ["REVIEW_STATUSES", "EventFilter", "HistoryUnavailable", "connect", "submit_review"]


class HistoryUnavailable(Exception):
    """The database cannot be read now (missing, or held by the manager too long)."""


@contextlib.contextmanager
def connect(data_dir: Path, timeout_s: float = 2.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection without file access, closed on exit. Raises HistoryUnavailable."""
    try:
        with db.connect_readonly(data_dir, timeout_s) as conn:
            # can be switched off but never back on while the connection lives
            conn.execute("SET enable_external_access = false")
            yield conn
    except db.DatabaseMissingError as exc:
        raise HistoryUnavailable(f"no history yet: {exc}") from exc
    except db.DatabaseBusyError as exc:
        raise HistoryUnavailable(f"the history is busy, try again in a moment: {exc}") from exc


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


EVENT_COLUMNS = ("event_id, camera_id, site, event_type, started_at, confidence, "
                 "review_status, reviewed_by, notes, clip_path, clip_error, snapshot_path, "
                 "round(epoch(ended_at) - epoch(started_at), 1) AS lasted_s")


def list_events(data_dir: Path, flt: EventFilter) -> pd.DataFrame:
    where, params = flt.where()
    return query_df(data_dir, f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} "
                              f"ORDER BY started_at DESC LIMIT {int(flt.limit)}", params)


def count_newer(data_dir: Path, flt: EventFilter, after: Any) -> int:
    """Events matching `flt` that started after `after` (a timestamp; None: all)."""
    where, params = flt.where()
    if after is not None:
        where, params = f"{where} AND started_at > ?", [*params, after]
    frame = query_df(data_dir, f"SELECT count(*) AS n FROM events WHERE {where}", params)
    return int(frame["n"].iloc[0])


def get_event(data_dir: Path, event_id: str) -> dict[str, Any] | None:
    frame = query_df(data_dir, "SELECT * FROM events WHERE event_id = ?", [event_id])
    if frame.empty:
        return None
    row = frame.iloc[0].to_dict()
    if isinstance(row.get("details"), str):
        with contextlib.suppress(ValueError):
            row["details"] = json.loads(row["details"])
    return row


def review_stored_since(data_dir: Path, event_id: str, since: float) -> bool:
    """Whether the event's latest review was submitted at or after `since` (epoch s)."""
    frame = query_df(data_dir, "SELECT epoch(reviewed_at) AS at FROM events WHERE event_id = ?",
                     [event_id])
    return bool(not frame.empty and pd.notna(frame["at"].iloc[0])
                and float(frame["at"].iloc[0]) >= since)


def awaiting_review(data_dir: Path, sites: Sequence[str], hours: float = 24.0,
                    limit: int = 6) -> tuple[int, pd.DataFrame]:
    """Unreviewed events of the last `hours` at these sites (empty: all): how many, and
    the newest `limit` of them, newest first."""
    where = ("review_status = 'pending' AND started_at >= now() - to_seconds(?)"
             + (" AND list_contains(?::VARCHAR[], site)" if sites else ""))
    params: list[Any] = [hours * 3600.0] + ([list(sites)] if sites else [])
    total = query_df(data_dir, f"SELECT count(*) AS n FROM events WHERE {where}", params)
    newest = query_df(data_dir, "SELECT event_id, camera_id, site, event_type, started_at, "
                      "snapshot_path, confidence, coalesce(ingested_at, started_at) AS arrived "
                      f"FROM events WHERE {where} "
                      "ORDER BY started_at DESC LIMIT ?", [*params, limit])
    return int(total["n"].iloc[0]), newest


def events_today(data_dir: Path) -> dict[str, int]:
    """Events per camera since local midnight."""
    midnight = dt.datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    frame = query_df(data_dir, "SELECT camera_id, count(*) AS n FROM events "
                               "WHERE started_at >= ? GROUP BY camera_id", [midnight])
    return {str(row.camera_id): int(row.n) for row in frame.itertuples()}


def filter_options(data_dir: Path, allowed_sites: Sequence[str] = ()) -> dict[str, list[str]]:
    """Distinct sites, cameras and types in the history of the allowed sites (empty: all),
    for the filters: an option is itself a disclosure (a camera id names a till)."""
    where, params = "", []
    if allowed_sites:
        where, params = "AND list_contains(?::VARCHAR[], site)", [list(allowed_sites)]
    with connect(data_dir) as conn:
        return {column: [str(v[0]) for v in conn.execute(
                    f"SELECT DISTINCT {column} FROM events WHERE {column} IS NOT NULL "
                    f"{where} ORDER BY 1", params).fetchall()]
                for column in ("site", "camera_id", "event_type")}


def worker_runs(data_dir: Path, since: dt.datetime,
                cameras: Collection[str] | None = None) -> pd.DataFrame:
    """Worker starts since `since`, of these cameras only (None: all; empty: none)."""
    if cameras is None:
        return query_df(data_dir, "SELECT * FROM worker_runs WHERE started_at >= ? "
                                  "ORDER BY started_at", [since])
    return query_df(data_dir, "SELECT * FROM worker_runs WHERE started_at >= ? "
                              "AND list_contains(?::VARCHAR[], camera_id) ORDER BY started_at",
                    [since, sorted(cameras)])


def evidence_file(data_dir: Path, relative: str | None) -> Path | bytes | None:
    """An event's clip or snapshot: a file inside the data_dir, the bytes of one kept in
    shared storage (an fsspec URL, see cashwatch.evidence.storage), or None when missing."""
    if not relative or (isinstance(relative, float) and pd.isna(relative)):
        return None
    if is_url(str(relative)):
        return _stored_evidence(str(relative))
    root = Path(data_dir).resolve()
    path = (root / str(relative)).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def _stored_evidence(url: str) -> Path | bytes | None:
    try:
        if url.startswith("file://"):  # a shared folder mounted here: no copy needed
            return local_evidence(url)
        return read_evidence(url)
    except (OSError, ValueError):  # gone (retention), unreachable, or not evidence
        return None


def submit_review(data_dir: Path, event_id: str, review_status: str, notes: str | None,
                  *, reviewed_by: str | None = None) -> None:
    """Hand a review to the manager (the only DuckDB writer) through the `_review` journal."""
    journal.submit_review(data_dir, event_id, review_status, notes or "",
                          reviewed_by=reviewed_by)
