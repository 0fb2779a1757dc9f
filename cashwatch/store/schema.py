"""The DuckDB schema as numbered migrations (see docs/architecture.md).

A database records the migrations it has in `schema_version`; `migrate` applies the
missing ones in order, each in its own transaction, so an old database is upgraded
in place and a new one is built by the same path.
"""

from __future__ import annotations

import duckdb

# Each entry: (version, statements). Never edit a released entry: add a new one.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE events (
            event_id VARCHAR PRIMARY KEY, camera_id VARCHAR, site VARCHAR, event_type VARCHAR,
            started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, confidence DOUBLE, bbox DOUBLE[],
            details JSON, clip_path VARCHAR, clip_error VARCHAR, snapshot_path VARCHAR,
            model VARCHAR, review_status VARCHAR DEFAULT 'pending', notes VARCHAR,
            reviewed_at TIMESTAMPTZ, ingested_at TIMESTAMPTZ)""",
            # The dashboard and `cashwatch events` filter by time, camera and type.
            "CREATE INDEX events_started_at ON events (started_at)",
            "CREATE INDEX events_camera_started ON events (camera_id, started_at)",
            """CREATE TABLE worker_runs (
            run_id VARCHAR PRIMARY KEY, camera_id VARCHAR, pid INTEGER, core INTEGER,
            started_at TIMESTAMPTZ, stopped_at TIMESTAMPTZ, exit_reason VARCHAR,
            restarts INTEGER)""",
            "CREATE INDEX worker_runs_camera_started ON worker_runs (camera_id, started_at)",
        ),
    ),
    (
        2,
        (
            # Retention deletes clips and snapshots but keeps the row and its review; this
            # says when, so an analyst can tell "expired" from "never written".
            "ALTER TABLE events ADD COLUMN evidence_expired_at TIMESTAMPTZ",
            # Who gave the verdict; NULL for reviews older than this column or made by a
            # tool without a signed-in user.
            "ALTER TABLE events ADD COLUMN reviewed_by VARCHAR",
        ),
    ),
    (
        3,
        (
            # From version 3 workers journal when an event's behaviour stopped (`event_end`)
            # and ended_at is NULL until then. Before, it was always a copy of started_at,
            # which would read as "lasted 0 s": NULL says "not known".
            "UPDATE events SET ended_at = NULL WHERE ended_at = started_at",
        ),
    ),
)
LATEST_VERSION = MIGRATIONS[-1][0]


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, applied_at TIMESTAMPTZ)"
    )
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the schema to `LATEST_VERSION`; returns how many migrations ran."""
    version = current_version(con)
    if version > LATEST_VERSION:
        raise RuntimeError(
            f"database schema version {version} is newer than this CashWatch "
            f"(knows up to {LATEST_VERSION}); upgrade CashWatch"
        )
    applied = 0
    for number, statements in MIGRATIONS:
        if number <= version:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in statements:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?, now())", [number])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied += 1
    return applied
