"""History for the dashboard: short read-only DuckDB connections, and review submission.

Connections come from the store (`connect_readonly` retries while the manager writes).
External file access is switched off on each one as a second wall.

While any process holds `cashwatch.duckdb` open, even read-only, the manager cannot
ingest (DuckDB's file lock). The pages' own queries take milliseconds; an analyst's query
on the SQL page can take seconds, so it runs on a copy instead (`database_copy`), taken
while holding the lock for only as long as copying the file takes.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import itertools
import json
import os
import shutil
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import duckdb
import pandas as pd

from cashwatch.evidence.storage import is_url, local_evidence, read_evidence
from cashwatch.i18n import _
from cashwatch.store import db, journal
from cashwatch.store.journal import REVIEW_STATUSES

__all__ = [
    "REVIEW_STATUSES",
    "DatabaseCopy",
    "EventFilter",
    "HistoryUnavailable",
    "connect",
    "database_copy",
    "leased_copy",
    "submit_review",
]

COPY_FOLDER = "sql-copy"  # in the data folder: the same disk, owner-only like the rest


class HistoryUnavailable(Exception):
    """The database cannot be read now (missing, or held by the manager too long)."""


@contextlib.contextmanager
def connect(data_dir: Path, timeout_s: float = 2.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection without file access, closed on exit. Raises HistoryUnavailable."""
    try:
        with db.connect_readonly(data_dir, timeout_s) as conn:
            # can be switched off but never back on while the connection lives
            conn.execute("SET enable_external_access = false")
            try:
                yield conn
            except duckdb.Error as exc:
                if not _damage(exc):
                    raise
                raise db.DatabaseDamagedError(
                    _(
                        "{path} cannot be read: {error} (events are kept in the journal; "
                        "`cashwatch db recover` rebuilds the file)"
                    ).format(path=db.db_path(data_dir), error=_first_line(exc))
                ) from exc
    except db.DatabaseMissingError as exc:
        raise HistoryUnavailable(_("no history yet: {error}").format(error=exc)) from exc
    except db.DatabaseDamagedError as exc:
        # the cameras go on: their events wait in the journal until the file is rebuilt
        raise HistoryUnavailable(
            _("the event database is damaged: {error}").format(error=exc)
        ) from exc
    except db.DatabaseBusyError as exc:
        raise HistoryUnavailable(
            _("the history is busy, try again in a moment: {error}").format(error=exc)
        ) from exc


def _damage(exc: duckdb.Error) -> bool:
    """Damage that opening the file did not notice, found by a query that read the block
    (DuckDB checks each block's checksum as it reads it)."""
    return isinstance(exc, duckdb.IOException) or "corrupt database file" in str(exc).lower()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@dataclass(frozen=True)
class DatabaseCopy:
    """A private copy of the database as it was at `as_of` (epoch s)."""

    path: Path
    as_of: float
    source_key: tuple[int, ...]  # size and mtime of the file (and WAL) that was copied


_copies: dict[Path, DatabaseCopy] = {}  # per data folder, in this dashboard process
_copy_lock = threading.Lock()  # one copy at a time: sessions share the result
_readers: dict[Path, int] = {}  # copy -> queries reading it now (leased_copy)
_replaced: set[Path] = set()  # copies replaced while read: removed by the last
_generation = itertools.count(1)


def database_copy(data_dir: Path) -> DatabaseCopy:
    """A copy of `cashwatch.duckdb` for long reads, refreshed when the file has changed.

    Raises HistoryUnavailable when there is no database, it stays locked, or the copy
    cannot be written (disk full).
    """
    with _copy_lock:
        return _current_copy(Path(data_dir).resolve())


@contextlib.contextmanager
def leased_copy(data_dir: Path) -> Iterator[DatabaseCopy]:
    """`database_copy` held for one query: a refresh by another session meanwhile
    replaces it for later queries but removes it (and its spill folder) only when the
    last query reading it has ended. The query runs in a child process that opens the
    copy by path, so the copy must still be there when the child starts."""
    with _copy_lock:
        copy = _current_copy(Path(data_dir).resolve())
        _readers[copy.path] = _readers.get(copy.path, 0) + 1
    try:
        yield copy
    finally:
        with _copy_lock:
            _readers[copy.path] -= 1
            if not _readers[copy.path]:
                del _readers[copy.path]
                if copy.path in _replaced:
                    _replaced.discard(copy.path)
                    _remove_copy(copy.path)


def _current_copy(data_dir: Path) -> DatabaseCopy:
    """Under `_copy_lock`: this process's copy, made anew when the file has changed."""
    current = _copies.get(data_dir)
    if (
        current is not None
        and current.path.exists()
        and current.source_key == _source_key(data_dir)
    ):
        return current
    fresh = _make_copy(data_dir)
    _copies[data_dir] = fresh
    if current is not None:
        if _readers.get(current.path):
            _replaced.add(current.path)  # removed by its last reader
        else:
            _remove_copy(current.path)
    return fresh


def _source_key(data_dir: Path) -> tuple[int, ...]:
    key: list[int] = []
    for path in (db.db_path(data_dir), _wal(db.db_path(data_dir))):
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            key += [stat.st_size, stat.st_mtime_ns]
    return tuple(key)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _make_copy(data_dir: Path) -> DatabaseCopy:
    folder = _copy_folder(data_dir)
    target = folder / f"{os.getpid()}-{next(_generation)}.duckdb"
    source = db.db_path(data_dir)
    try:
        # Holding a read-only connection: the manager cannot write meanwhile, so file and
        # WAL are one consistent state. It waits only as long as the copy takes.
        with connect(data_dir):
            key = _source_key(data_dir)
            _private_copy(source, target)
            if _wal(source).exists():  # a manager killed mid-write: its WAL is the rest
                _private_copy(_wal(source), _wal(target))
            as_of = time.time()
    except OSError as exc:
        _remove_copy(target)
        raise HistoryUnavailable(
            _("cannot copy the history to {folder} for queries: {error}").format(
                folder=folder, error=exc
            )
        ) from exc
    except BaseException:
        _remove_copy(target)
        raise
    return DatabaseCopy(target, as_of, key)


def _private_copy(source: Path, target: Path) -> None:
    """Owner-only from its creation: copyfile would leave it as the umask says (0644 in
    a dashboard started without one), readable by every local user."""
    with (
        open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out,
        open(source, "rb") as src,
    ):
        shutil.copyfileobj(src, out, 2**20)


def _copy_folder(data_dir: Path) -> Path:
    folder = data_dir / COPY_FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)  # mkdir's mode is not applied to a folder that already exists
    _remove_orphans(folder)
    return folder


def _remove_orphans(folder: Path) -> None:
    """Copies (and spill folders) left by dashboard processes that are gone (killed
    before their atexit ran): named `<pid>-<generation>.*`."""
    for entry in folder.iterdir():
        pid = entry.name.split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: not ours to judge
        return True
    return True


def _remove_copy(path: Path) -> None:
    for leftover in (path, _wal(path)):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    shutil.rmtree(path.with_suffix(".spill"), ignore_errors=True)


@atexit.register
def _remove_all_copies() -> None:
    for copy in list(_copies.values()):
        _remove_copy(copy.path)


def query_df(data_dir: Path, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    with connect(data_dir) as conn:
        return conn.execute(sql, list(params)).df()


@dataclass(frozen=True)
class EventFilter:
    start: dt.datetime
    end: dt.datetime
    sites: tuple[str, ...] = ()  # empty: all
    cameras: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    review: tuple[str, ...] = ()
    till: tuple[str, ...] = ()  # cash events' till outcomes
    allowed_sites: tuple[str, ...] = ()  # the account's limit; empty: all
    limit: int = 1000

    def where(self) -> tuple[str, list[Any]]:
        clauses = ["started_at >= ?", "started_at < ?"]
        params: list[Any] = [self.start, self.end]
        for column, values in (
            ("site", self.sites),
            ("camera_id", self.cameras),
            ("event_type", self.types),
            ("review_status", self.review),
            ("till_match", self.till),
            ("site", self.allowed_sites),
        ):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        return " AND ".join(clauses), params


EVENT_COLUMNS = (
    "event_id, camera_id, site, event_type, started_at, confidence, "
    "review_status, reviewed_by, notes, clip_path, clip_error, snapshot_path, till_match, "
    "round(epoch(ended_at) - epoch(started_at), 1) AS lasted_s"
)


def list_events(data_dir: Path, flt: EventFilter) -> pd.DataFrame:
    where, params = flt.where()
    return query_df(
        data_dir,
        f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} "
        f"ORDER BY started_at DESC LIMIT {int(flt.limit)}",
        params,
    )


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
    return cast(dict[str, Any] | None, row)


def review_stored_since(data_dir: Path, event_id: str, since: float) -> bool:
    """Whether the event's latest review was submitted at or after `since` (epoch s)."""
    frame = query_df(
        data_dir, "SELECT epoch(reviewed_at) AS at FROM events WHERE event_id = ?", [event_id]
    )
    return bool(
        not frame.empty and pd.notna(frame["at"].iloc[0]) and float(frame["at"].iloc[0]) >= since
    )


def awaiting_review(
    data_dir: Path, sites: Sequence[str], hours: float = 24.0, limit: int = 6
) -> tuple[int, pd.DataFrame]:
    """Unreviewed events of the last `hours` at these sites (empty: all): how many, and
    `limit` of them: the hand-overs no sale was rung up for first (what an owner looks
    at first, docs/till.md), then the newest."""
    where = "review_status = 'pending' AND started_at >= now() - to_seconds(?)" + (
        " AND list_contains(?::VARCHAR[], site)" if sites else ""
    )
    params: list[Any] = [hours * 3600.0] + ([list(sites)] if sites else [])
    total = query_df(data_dir, f"SELECT count(*) AS n FROM events WHERE {where}", params)
    newest = query_df(
        data_dir,
        "SELECT event_id, camera_id, site, event_type, started_at, "
        "snapshot_path, confidence, coalesce(ingested_at, started_at) AS arrived, "
        "till_match "
        f"FROM events WHERE {where} "
        # the till's findings first: a hand-over with no sale, a refund to nobody
        "ORDER BY coalesce(till_match = 'unmatched', false) "
        "OR event_type = 'till_exception' DESC, started_at DESC LIMIT ?",
        [*params, limit],
    )
    return int(total["n"].iloc[0]), newest


def events_today(data_dir: Path) -> dict[str, int]:
    """Events per camera since local midnight."""
    midnight = dt.datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    frame = query_df(
        data_dir,
        "SELECT camera_id, count(*) AS n FROM events WHERE started_at >= ? GROUP BY camera_id",
        [midnight],
    )
    return {str(row.camera_id): int(row.n) for row in frame.itertuples()}


def filter_options(data_dir: Path, allowed_sites: Sequence[str] = ()) -> dict[str, list[str]]:
    """Distinct sites, cameras and types in the history of the allowed sites (empty: all),
    for the filters: an option is itself a disclosure (a camera id names a till)."""
    where, params = "", []
    if allowed_sites:
        where, params = "AND list_contains(?::VARCHAR[], site)", [list(allowed_sites)]
    with connect(data_dir) as conn:
        return {
            column: [
                str(v[0])
                for v in conn.execute(
                    f"SELECT DISTINCT {column} FROM events WHERE {column} IS NOT NULL "
                    f"{where} ORDER BY 1",
                    params,
                ).fetchall()
            ]
            for column in ("site", "camera_id", "event_type")
        }


def worker_runs(
    data_dir: Path, since: dt.datetime, cameras: Collection[str] | None = None
) -> pd.DataFrame:
    """Worker starts since `since`, of these cameras only (None: all; empty: none)."""
    if cameras is None:
        return query_df(
            data_dir, "SELECT * FROM worker_runs WHERE started_at >= ? ORDER BY started_at", [since]
        )
    return query_df(
        data_dir,
        "SELECT * FROM worker_runs WHERE started_at >= ? "
        "AND list_contains(?::VARCHAR[], camera_id) ORDER BY started_at",
        [since, sorted(cameras)],
    )


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


def submit_review(
    data_dir: Path,
    event_id: str,
    review_status: str,
    notes: str | None,
    *,
    reviewed_by: str | None = None,
) -> None:
    """Hand a review to the manager (the only DuckDB writer) through the `_review` journal."""
    journal.submit_review(data_dir, event_id, review_status, notes or "", reviewed_by=reviewed_by)
