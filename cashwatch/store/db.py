"""Opening `cashwatch.duckdb`: short read-write sessions for the manager, read-only for the rest.

DuckDB lets one process hold the file read-write and then nobody else may open it, not
even read-only; several read-only processes can share it. The lock fails at once
instead of waiting. So the manager opens, writes and closes within milliseconds, and
readers retry for a moment when they hit it mid-write.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from cashwatch.store.errors import short_reason
from cashwatch.store.schema import LATEST_VERSION, migrate

DB_FILE = "cashwatch.duckdb"


class DatabaseMissingError(FileNotFoundError):
    """No database yet: the manager creates it on its first ingest."""


class DatabaseBusyError(RuntimeError):
    """Another process holds the DuckDB file lock."""


class DatabaseOutdatedError(DatabaseBusyError):
    """The file's schema is older than this CashWatch reads; the manager upgrades it when
    it starts (or at its next ingest if the file was locked then). A kind of "busy": the
    callers that wait out a lock wait this out the same way."""


class DatabaseDamagedError(DatabaseBusyError):
    """The file cannot be opened for another reason than a lock (damaged, unreadable).

    A kind of "busy" for readers: what they do for a lock held too long (show the error,
    try again later) is right here too, and the manager keeps events in the journal
    until `cashwatch db recover` has rebuilt the file."""


def db_path(data_dir: Path) -> Path:
    return Path(data_dir) / DB_FILE


def is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def open_writable(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """Open (creating and migrating if needed) for writing; DatabaseBusyError if locked."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(db_path(data_dir)))
    except duckdb.IOException as exc:
        if is_lock_error(exc):
            raise DatabaseBusyError(str(exc)) from exc
        raise
    try:
        migrate(con)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def connect_readonly(data_dir: Path, timeout_s: float = 3.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection, closed on exit; hold it briefly, the manager waits on it.

    Retries for up to `timeout_s` while the manager is writing. Raises
    DatabaseMissingError when no database exists, DatabaseBusyError when the lock
    stays taken and DatabaseDamagedError (a DatabaseBusyError) when the file is damaged.

    >>> with connect_readonly(data_dir) as con:                  # doctest: +SKIP
    ...     con.execute("SELECT count(*) FROM events").fetchone()
    """
    path = db_path(data_dir)
    deadline = time.monotonic() + timeout_s
    while True:
        if not path.exists():
            raise DatabaseMissingError(
                f"no event database at {path} yet: the manager creates it "
                "(start it with `cashwatch run`)"
            )
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.Error as exc:
            if not is_lock_error(exc):
                raise DatabaseDamagedError(
                    f"{path} cannot be read: {short_reason(exc)} (events are "
                    "kept in the journal; `cashwatch db recover` rebuilds the file)"
                ) from exc
            if time.monotonic() >= deadline:
                raise DatabaseBusyError(
                    f"{path} stayed locked for {timeout_s:.1f} s "
                    "(another process holds it read-write)"
                ) from exc
            time.sleep(0.02)  # the manager's writes take ~15 ms
    try:
        _require_current_schema(con, path)
        yield con
    finally:
        con.close()


def _require_current_schema(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    try:
        # fetchall, not fetchone: an unfinished result blocks the caller's next statement
        rows = con.execute("SELECT max(version) FROM schema_version").fetchall()
    except duckdb.CatalogException:
        rows = []
    version = int(rows[0][0]) if rows and rows[0][0] is not None else 0
    if version < LATEST_VERSION:
        raise DatabaseOutdatedError(
            f"{path} has schema version {version}; this CashWatch reads version "
            f"{LATEST_VERSION}: start the manager (`cashwatch run`) once to upgrade it"
        )
