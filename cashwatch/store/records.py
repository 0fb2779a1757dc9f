"""Applying journal records to DuckDB: one function per record kind, all idempotent.

Replaying a record already applied changes nothing, and records merge rather than
overwrite: an event line replayed after its clip line keeps the clip, a worker_run
stop line keeps the start line's fields, and once an event's evidence has expired no
event or clip line puts a path back on its row (the files are gone). Rows are never
deleted. Values are checked here so a damaged line is reported with what is wrong
instead of failing inside SQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import duckdb

from cashwatch.till.matching import OUTCOMES


class BadRecordError(ValueError):
    """A journal line that cannot be applied; it is logged and skipped."""


def _text(record: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise BadRecordError(f"{record.get('kind')} record without {key!r}")
        return None
    if not isinstance(value, str) or (required and not value):
        raise BadRecordError(f"{key} must be a non-empty string, got {value!r}")
    return value


def _number(record: dict[str, Any], key: str) -> float | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecordError(f"{key} must be a number, got {value!r}")
    return float(value)


def _integer(record: dict[str, Any], key: str) -> int | None:
    value = _number(record, key)
    return None if value is None else int(value)


def _bbox(record: dict[str, Any]) -> list[float] | None:
    value = record.get("bbox")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, int | float) for v in value):
        raise BadRecordError(f"bbox must be a list of numbers, got {value!r}")
    return [float(v) for v in value]


_EVENT_FIELDS = (
    "camera_id",
    "site",
    "event_type",
    "started_at",
    "ended_at",
    "confidence",
    "bbox",
    "details",
    "model",
)
_UPSERT_EVENT = f"""
INSERT INTO events (event_id, {", ".join(_EVENT_FIELDS)}, snapshot_path, clip_path, clip_error,
                    ingested_at)
VALUES (?, ?, ?, ?, to_timestamp(?), to_timestamp(?), ?, ?, ?::JSON, ?, ?, ?, ?, now())
ON CONFLICT (event_id) DO UPDATE SET
  {
    ", ".join(
        f"{name} = coalesce(excluded.{name}, events.{name})"
        for name in _EVENT_FIELDS
        if name != "ended_at"
    )
},
  -- an event line replayed after its event_end line must not shorten the event
  ended_at = greatest(excluded.ended_at, events.ended_at),
  snapshot_path = CASE WHEN events.evidence_expired_at IS NULL
                       THEN coalesce(excluded.snapshot_path, events.snapshot_path) END,
  clip_path = CASE WHEN events.clip_path IS NULL AND events.clip_error IS NULL
                        AND events.evidence_expired_at IS NULL
                   THEN excluded.clip_path ELSE events.clip_path END,
  clip_error = CASE WHEN events.clip_path IS NULL AND events.clip_error IS NULL
                    THEN excluded.clip_error ELSE events.clip_error END,
  -- a row made by a clip or end line that came first is only a placeholder: the event
  -- arrives now (the Overview announces events by the time they arrive)
  ingested_at = CASE WHEN events.started_at IS NULL THEN excluded.ingested_at
                     ELSE coalesce(events.ingested_at, excluded.ingested_at) END
"""


def apply_event(con: duckdb.DuckDBPyConnection, record: dict[str, Any]) -> list[str]:
    details = record.get("details")
    if details is not None and not isinstance(details, dict):
        raise BadRecordError(f"details must be an object, got {details!r}")
    ended_at = _number(record, "ended_at")
    if ended_at is not None and ended_at == _number(record, "started_at"):
        # Workers before event ends (schema 3) wrote a copy of started_at: not an end.
        # Today's workers write none here; the end comes in its own event_end line.
        ended_at = None
    con.execute(
        _UPSERT_EVENT,
        [
            _text(record, "event_id", required=True),
            _text(record, "camera_id"),
            _text(record, "site"),
            _text(record, "event_type"),
            _number(record, "started_at"),
            ended_at,
            _number(record, "confidence"),
            _bbox(record),
            None if details is None else json.dumps(details),
            _text(record, "model"),
            _text(record, "snapshot_path"),
            _text(record, "clip_path"),
            _text(record, "clip_error"),
        ],
    )
    return []


def apply_clip(con: duckdb.DuckDBPyConnection, record: dict[str, Any]) -> list[str]:
    # An upsert, not an UPDATE: the clip outcome must survive even if it is applied
    # before its event line; the event line then fills in the rest (see _UPSERT_EVENT).
    # A clip of an expired event is a replayed line (its file is gone) or one finished
    # after retention took the event; either way the row must not point at it, and
    # retention's orphan sweep removes a file left behind.
    con.execute(
        """
        INSERT INTO events (event_id, clip_path, clip_error, ingested_at) VALUES (?, ?, ?, now())
        ON CONFLICT (event_id) DO UPDATE SET
          clip_path = CASE WHEN events.evidence_expired_at IS NULL THEN excluded.clip_path END,
          clip_error = excluded.clip_error""",
        [
            _text(record, "event_id", required=True),
            _text(record, "clip_path"),
            _text(record, "clip_error"),
        ],
    )
    return []


def apply_event_end(con: duckdb.DuckDBPyConnection, record: dict[str, Any]) -> list[str]:
    # An upsert, as for clips: the worker writes the end after its event line, but ingest
    # can apply a later day's file before the rest of an earlier one (a read budget cut
    # it short), and the event line then fills in the rest (see _UPSERT_EVENT). Ends only
    # move later, so a replayed line changes nothing.
    ended_at = _number(record, "ended_at")
    if ended_at is None:
        raise BadRecordError("event_end record without 'ended_at'")
    con.execute(
        """
        INSERT INTO events (event_id, ended_at, ingested_at) VALUES (?, to_timestamp(?), now())
        ON CONFLICT (event_id) DO UPDATE SET
          ended_at = greatest(events.ended_at, excluded.ended_at)""",
        [_text(record, "event_id", required=True), ended_at],
    )
    return []


def apply_review(con: duckdb.DuckDBPyConnection, record: dict[str, Any]) -> list[str]:
    # Reviews come from the dashboard, which only shows stored events: a review of an
    # unknown event is dropped rather than creating a stub row. Each review replaces the
    # last one whole, so a line without `reviewed_by` (older journals, tools) leaves NULL
    # rather than the previous reviewer's name on a verdict that is not theirs.
    con.execute(
        "UPDATE events SET review_status = ?, notes = ?, reviewed_at = to_timestamp(?), "
        "reviewed_by = ? WHERE event_id = ?",
        [
            _text(record, "review_status", required=True),
            _text(record, "notes"),
            _number(record, "reviewed_at"),
            _text(record, "reviewed_by"),
            _text(record, "event_id", required=True),
        ],
    )
    return []


_RUN_FIELDS = ("camera_id", "pid", "core", "started_at", "stopped_at", "exit_reason", "restarts")
_UPSERT_RUN = f"""
INSERT INTO worker_runs (run_id, {", ".join(_RUN_FIELDS)})
VALUES (?, ?, ?, ?, to_timestamp(?), to_timestamp(?), ?, ?)
ON CONFLICT (run_id) DO UPDATE SET
  {", ".join(f"{name} = coalesce(excluded.{name}, worker_runs.{name})" for name in _RUN_FIELDS)}
"""


def apply_worker_run(con: duckdb.DuckDBPyConnection, record: dict[str, Any]) -> list[str]:
    con.execute(
        _UPSERT_RUN,
        [
            _text(record, "run_id", required=True),
            _text(record, "camera_id"),
            _integer(record, "pid"),
            _integer(record, "core"),
            _number(record, "started_at"),
            _number(record, "stopped_at"),
            _text(record, "exit_reason"),
            _integer(record, "restarts"),
        ],
    )
    return []


def apply_expire(con: duckdb.DuckDBPyConnection, record: dict[str, Any]) -> list[str]:
    """Retention took the event's evidence: clear its paths and stamp `evidence_expired_at`.

    The row and its review stay. Returns the paths the row still named, so any file of
    them retention did not get (e.g. a clip stored after it looked) is removed after the
    commit. The first expiry's time is kept when a line is replayed.
    """
    event_id = _text(record, "event_id", required=True)
    row = con.execute(
        "SELECT clip_path, snapshot_path FROM events WHERE event_id = ?", [event_id]
    ).fetchone()
    # now(): `delete` lines from before version 2 carry no time; ingest follows within a second.
    con.execute(
        "UPDATE events SET clip_path = NULL, snapshot_path = NULL, "
        "evidence_expired_at = coalesce(evidence_expired_at, to_timestamp(?), now()) "
        "WHERE event_id = ?",
        [_number(record, "expired_at"), event_id],
    )
    return [path for path in (row or ()) if path]


def apply_transaction(con: duckdb.DuckDBPyConnection, record: dict[str, Any]) -> list[str]:
    """A till's transaction; the same (till, reference) again replaces nothing."""
    con.execute(
        "INSERT INTO transactions (till_id, reference, rung_up_at, amount, currency, kind, source, "
        "imported_at) VALUES (?, ?, to_timestamp(?), ?, ?, ?, ?, now()) "
        "ON CONFLICT (till_id, reference) DO NOTHING",
        [
            _text(record, "till_id", required=True),
            _text(record, "reference", required=True),
            _number(record, "at"),
            _number(record, "amount"),
            _text(record, "currency"),
            _text(record, "tx_kind", required=True),
            _text(record, "source"),
        ],
    )
    return []


def apply_till_match(con: duckdb.DuckDBPyConnection, record: dict[str, Any]) -> list[str]:
    """A cash event's outcome against its till (the manager's matching decides it)."""
    outcome = _text(record, "till_match", required=True)
    if outcome not in OUTCOMES:
        raise BadRecordError(f"till_match {outcome!r}; valid: {', '.join(OUTCOMES)}")
    con.execute(
        "UPDATE events SET till_id = ?, till_match = ?, till_reference = ? WHERE event_id = ?",
        [
            _text(record, "till_id"),
            outcome,
            _text(record, "till_reference"),
            _text(record, "event_id", required=True),
        ],
    )
    return []


Applier = Callable[[duckdb.DuckDBPyConnection, dict[str, Any]], list[str]]
APPLIERS: dict[str, Applier] = {
    "event": apply_event,
    "clip": apply_clip,
    "event_end": apply_event_end,
    "review": apply_review,
    "worker_run": apply_worker_run,
    "expire": apply_expire,
    "transaction": apply_transaction,
    "till_match": apply_till_match,
    # Retention before schema version 2 journalled `delete` and dropped the row; such
    # lines still waiting in a journal now only expire the evidence, as retention does.
    "delete": apply_expire,
}


def apply_record(con: duckdb.DuckDBPyConnection, record: dict[str, Any]) -> list[str]:
    """Apply one parsed journal line; returns evidence files to delete once committed."""
    kind = record.get("kind")
    applier = APPLIERS.get(kind) if isinstance(kind, str) else None
    if applier is None:
        raise BadRecordError(f"unknown record kind {kind!r}; valid: {', '.join(APPLIERS)}")
    return applier(con, record)
