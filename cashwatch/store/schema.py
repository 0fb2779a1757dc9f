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
    (
        4,
        (
            # What the tills rang up (issue #24; `rung_up_at`: AT is a keyword): one row per
            # (till, reference), so a
            # file imported twice changes nothing.
            """CREATE TABLE transactions (
            till_id VARCHAR, reference VARCHAR, rung_up_at TIMESTAMPTZ, amount DOUBLE,
            currency VARCHAR, kind VARCHAR, source VARCHAR, imported_at TIMESTAMPTZ,
            PRIMARY KEY (till_id, reference))""",
            "CREATE INDEX transactions_till_at ON transactions (till_id, rung_up_at)",
            # A cash event's outcome against its till: matched, unmatched, pending or
            # no_till (NULL: not a cash event, or not looked at yet), and the match.
            "ALTER TABLE events ADD COLUMN till_id VARCHAR",
            "ALTER TABLE events ADD COLUMN till_match VARCHAR",
            "ALTER TABLE events ADD COLUMN till_reference VARCHAR",
            # Per till and day (the session's time zone): the hand-overs and how they
            # matched, and the sales no hand-over took (paid by card, or cash unseen).
            """CREATE VIEW cash_reconciliation AS
            WITH handovers AS (
              SELECT till_id, CAST(started_at AS DATE) AS day, count(*) AS handovers,
                     count(*) FILTER (WHERE till_match = 'matched') AS matched,
                     count(*) FILTER (WHERE till_match = 'unmatched') AS unmatched,
                     count(*) FILTER (WHERE till_match = 'pending') AS pending
              FROM events WHERE event_type = 'cash' AND till_id IS NOT NULL
              GROUP BY till_id, day),
            sales AS (
              SELECT t.till_id, CAST(t.rung_up_at AS DATE) AS day,
                     count(*) FILTER (WHERE t.kind = 'sale') AS sales,
                     count(*) FILTER (WHERE t.kind = 'sale' AND NOT EXISTS (
                       SELECT 1 FROM events e WHERE e.till_match = 'matched'
                       AND e.till_id = t.till_id AND e.till_reference = t.reference))
                       AS sales_without_handover,
                     count(*) FILTER (WHERE t.kind IN ('refund', 'no_sale', 'void', 'payout'))
                       AS other_transactions
              FROM transactions t GROUP BY t.till_id, day)
            SELECT coalesce(h.till_id, s.till_id) AS till_id, coalesce(h.day, s.day) AS day,
                   coalesce(h.handovers, 0) AS handovers, coalesce(h.matched, 0) AS matched,
                   coalesce(h.unmatched, 0) AS unmatched, coalesce(h.pending, 0) AS pending,
                   coalesce(s.sales, 0) AS sales,
                   coalesce(s.sales_without_handover, 0) AS sales_without_handover,
                   coalesce(s.other_transactions, 0) AS other_transactions
            FROM handovers h FULL OUTER JOIN sales s ON h.till_id = s.till_id AND h.day = s.day""",
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
