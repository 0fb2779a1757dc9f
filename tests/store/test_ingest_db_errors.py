"""Errors of the database, not of one record, consume no journal line (review item 2).

Before, BinderException, InvalidInputException and IntegrityError counted as a record's
own error: when the schema made every record fail so, each line was skipped and its
offset saved, and the events were gone from DuckDB for good.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from cashwatch.store.db import db_path
from cashwatch.store.errors import short_reason
from cashwatch.store.ingest import OFFSETS_FILE, Ingestor
from tests.store.builders import journal_events, query


def _offsets(data_dir: Path) -> dict[str, int]:
    return json.loads((data_dir / "journal" / OFFSETS_FILE).read_text())


def _rebuild_events_table(data_dir: Path, select: str, extra: str = "") -> None:
    """Swap `events` for a copy made by `select` (as a hand-made migration might)."""
    con = duckdb.connect(str(db_path(data_dir)))
    try:
        con.execute(f"CREATE TABLE ev2 AS SELECT {select} FROM events")
        con.execute("DROP TABLE events CASCADE")
        con.execute("ALTER TABLE ev2 RENAME TO events")
        if extra:
            con.execute(extra)
    finally:
        con.close()


def _stored_then_schema_changed(data_dir: Path, select: str, extra: str = "") -> dict[str, int]:
    journal_events(data_dir, "cam1", ["e0"])
    Ingestor(data_dir).drain()
    _rebuild_events_table(data_dir, select, extra)
    journal_events(data_dir, "cam1", ["e1", "e2"])
    return _offsets(data_dir)


def test_a_binder_error_of_the_schema_consumes_nothing(tmp_path: Path) -> None:
    # no primary key any more: every upsert's ON CONFLICT fails to bind
    before = _stored_then_schema_changed(tmp_path, "* EXCLUDE (model)")
    ingestor = Ingestor(tmp_path)
    assert ingestor.poll() == 0
    assert "Binder Error" in ingestor.db_error
    assert _offsets(tmp_path) == before  # e1, e2 wait in the journal
    assert ingestor.failed_writes == 1  # backs off like any database failure


def test_a_constraint_every_record_breaks_consumes_nothing(tmp_path: Path) -> None:
    # a NOT NULL that no new record fills: each one, alone in its transaction, is refused
    before = _stored_then_schema_changed(
        tmp_path,
        "* REPLACE ('none' AS clip_error)",
        "ALTER TABLE events ADD PRIMARY KEY (event_id); "
        "ALTER TABLE events ALTER COLUMN clip_error SET NOT NULL",
    )
    ingestor = Ingestor(tmp_path)
    assert ingestor.poll() == 0
    assert "NOT NULL" in ingestor.db_error
    assert _offsets(tmp_path) == before
    assert [r[0] for r in query(tmp_path, "SELECT event_id FROM events")] == ["e0"]


def test_the_same_data_error_for_every_record_consumes_nothing(tmp_path: Path) -> None:
    # `site` became a number: 'lobby' converts for no record, with one same message
    before = _stored_then_schema_changed(
        tmp_path,
        "* REPLACE (CAST(NULL AS INTEGER) AS site)",
        "ALTER TABLE events ADD PRIMARY KEY (event_id)",
    )
    ingestor = Ingestor(tmp_path)
    assert ingestor.poll() == 0
    assert "lobby" in ingestor.db_error
    assert _offsets(tmp_path) == before


def test_an_unwritable_offsets_file_sets_db_error_instead_of_raising(tmp_path: Path) -> None:
    journal_events(tmp_path, "cam1", ["e1"])
    (tmp_path / "journal" / OFFSETS_FILE).mkdir()  # root cannot replace a folder either
    ingestor = Ingestor(tmp_path)
    assert ingestor.poll() == 0  # before: IsADirectoryError out of poll()
    assert "offsets.json" in ingestor.db_error
    assert ingestor.failed_writes == 1
    assert ingestor.poll() == 0 and ingestor.failed_writes == 1  # backing off


@pytest.mark.parametrize(
    "text",
    [
        "x" * 230 + " rtsp://admin:hunter2@cam.example/live",
        "rtsp://admin:hunter2@cam/live failed\nsecond line rtsp://u:other@cam",
    ],
)
def test_short_reason_masks_before_it_cuts_and_keeps_one_line(text: str) -> None:
    reason = short_reason(OSError(text))
    assert "hunter2" not in reason and "other" not in reason
    assert "\n" not in reason and len(reason) <= 240
