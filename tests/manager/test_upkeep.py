"""StoreUpkeep in-process: a real journal into a real DuckDB file, its error in the header."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cashwatch.config.evidence import RetentionConfig
from cashwatch.manager.upkeep import StoreUpkeep
from cashwatch.shm.status import StatusTable
from cashwatch.store.db import db_path
from cashwatch.store.ingest import RETRY_INITIAL_S
from cashwatch.store.journal import JournalWriter
from tests.store.builders import damage_database, journal_events, query


@pytest.fixture
def status(tmp_path: Path) -> Iterator[StatusTable]:
    table = StatusTable.create(tmp_path, 2, tmp_path / "c.toml")
    yield table
    table.close()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[JournalWriter]:
    writer = JournalWriter(tmp_path, "_manager")
    yield writer
    writer.close()


def _event_ids(data_dir: Path) -> list[str]:
    return [row[0] for row in query(data_dir, "SELECT event_id FROM events ORDER BY event_id")]


def test_start_replays_the_journals_and_steps_ingest_new_lines(
    tmp_path: Path, status: StatusTable, journal: JournalWriter
) -> None:
    journal_events(tmp_path, "cam1", ["e1", "e2"])
    upkeep = StoreUpkeep(tmp_path, status, journal, journal_days=7.0)
    assert upkeep.start() == 2
    journal_events(tmp_path, "cam1", ["e3"])
    upkeep.step(RetentionConfig())
    upkeep.close()
    assert _event_ids(tmp_path) == ["e1", "e2", "e3"]
    assert status.read_header().db_error == ""


def test_a_damaged_database_is_published_then_cleared(
    tmp_path: Path, status: StatusTable, journal: JournalWriter
) -> None:
    journal_events(tmp_path, "cam1", [f"e{i}" for i in range(50)])
    first = StoreUpkeep(tmp_path, status, journal, journal_days=7.0)
    first.start()
    first.ingestor.drain()  # a poll stops at its byte and time budgets
    first.close()
    assert len(_event_ids(tmp_path)) == 50
    damage_database(tmp_path)

    journal_events(tmp_path, "cam1", ["late"])
    upkeep = StoreUpkeep(tmp_path, status, journal, journal_days=7.0)
    assert upkeep.start() == 0  # the cameras would start anyway; the event waits
    error = status.read_header().db_error
    assert "Corrupt database file" in error
    assert "cashwatch db recover" in error
    assert "wait in the journal" in error

    # the admin moves the damaged file away: the next try after the back-off stores it
    for path in db_path(tmp_path).parent.glob(db_path(tmp_path).name + "*"):
        path.unlink()
    time.sleep(RETRY_INITIAL_S + 0.1)
    assert upkeep.ingest() == 1
    assert status.read_header().db_error == ""
    upkeep.close()
    assert _event_ids(tmp_path) == ["late"]
