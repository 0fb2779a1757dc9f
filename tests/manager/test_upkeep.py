"""StoreUpkeep in-process: a real journal into a real DuckDB file, its error in the header."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from cashwatch.config.evidence import RetentionConfig
from cashwatch.manager.upkeep import StoreUpkeep
from cashwatch.shm.status import StatusTable
from cashwatch.store.db import db_path
from cashwatch.store.ingest import RETRY_INITIAL_S
from cashwatch.store.journal import JournalWriter
from cashwatch.store.schema import LATEST_VERSION, MIGRATIONS
from tests.harness import wait_for
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


def test_a_reader_holding_the_file_at_start_only_delays_the_schema_upgrade(
    tmp_path: Path, status: StatusTable, journal: JournalWriter
) -> None:
    """A dashboard reading at the manager's start used to leave an old schema in place
    until the first ingest, which a quiet site may not have for hours."""
    with duckdb.connect(str(db_path(tmp_path))) as con:
        con.execute("CREATE TABLE schema_version (version INTEGER, applied_at TIMESTAMPTZ)")
        for statement in MIGRATIONS[0][1]:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (1, now())")
    reader = subprocess.Popen(  # another process, as DuckDB locks per process
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
            "print('open', flush=True); sys.stdin.read()",
            str(db_path(tmp_path)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline() == b"open\n"
        upkeep = StoreUpkeep(tmp_path, status, journal, journal_days=7.0)
        upkeep.start()
        assert _schema_version(tmp_path) == 1, "the reader's lock kept the upgrade out"
    finally:
        assert reader.stdin is not None
        reader.stdin.close()
        reader.wait(10)
    wait_for(
        lambda: upkeep.step(RetentionConfig()) or _schema_version(tmp_path) == LATEST_VERSION,
        10,
        "the schema upgrade once the reader let go",
    )
    upkeep.close()


def _schema_version(data_dir: Path) -> int:
    return int(query(data_dir, "SELECT max(version) FROM schema_version")[0][0])
