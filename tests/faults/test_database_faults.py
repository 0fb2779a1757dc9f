"""A damaged event database: the cameras run anyway, every status view says why, no event
is lost, and `cashwatch db recover` rebuilds the file from the journals."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cashwatch.auth import UserStore
from cashwatch.store.ingest import Ingestor
from tests.dashboard.conftest import APP, REPO, signed_in
from tests.harness import (
    ManagerProcess,
    camera_entry,
    cli,
    db_events,
    shm_segments,
    status_json,
    wait_for,
    write_config,
)
from tests.store.builders import damage_database, journal_events

pytestmark = pytest.mark.slow

BEFORE = ["before-1", "before-2"]  # stored before the file was damaged
DURING = ["during-1", "during-2"]  # raised while it was damaged


def _system_page_errors(data_dir: Path) -> list[str]:
    UserStore(data_dir).add("ada", "correct horse battery", "admin")
    at = signed_in(AppTest.from_file(str(APP), default_timeout=30), data_dir, "ada").run()
    assert not at.exception, at.exception
    at = at.switch_page("pages/system.py").run()
    assert not at.exception, at.exception
    return [str(e.value) for e in at.error]


def test_cameras_run_beside_a_damaged_database_and_recover_rebuilds_every_event(
    tmp_path: Path, make_video, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal_events(tmp_path, "cam", BEFORE)
    Ingestor(tmp_path).drain()
    damage_database(tmp_path)
    config = write_config(tmp_path / "cashwatch.toml", [camera_entry("cam", make_video())])

    started = time.monotonic()
    with ManagerProcess(config) as manager:
        manager.wait_state("cam", "running", 30)
        print(f"camera running {time.monotonic() - started:.1f} s after `cashwatch run`")
        header = wait_for(
            lambda: (h := status_json(config)["manager"])["db_error"] and h,
            10,
            "the database error in `cashwatch status --json`",
        )
        assert "Corrupt database file" in header["db_error"]
        assert "cashwatch db recover" in header["db_error"]
        assert len(header["db_error"]) < 512
        table = cli("status", config=config)
        assert table.returncode == 0 and "database error: events cannot be stored" in table.stdout
        monkeypatch.setenv("CASHWATCH_CONFIG", str(config))
        monkeypatch.chdir(REPO)
        assert any(
            "Event database: events cannot be stored" in e for e in _system_page_errors(tmp_path)
        )

        journal_events(tmp_path, "cam", DURING)  # as the camera's worker journals them
        refused = cli("db", "recover", config=config)
        assert refused.returncode == 1
        assert re.search(
            r"another manager \(pid \d+\) is already running.*stop it first", refused.stderr
        ), refused.stderr
        assert manager.status()["workers"]["cam"]["state"] == "running"
    assert manager.proc is not None and manager.proc.returncode == 0
    assert shm_segments(tmp_path) == []

    done = cli("db", "recover", config=config)
    assert done.returncode == 0, done.stderr
    assert re.search(
        r"moved the old database to .*cashwatch\.duckdb\.damaged-\d{8}-\d{6}; "
        r"rebuilt 4 event\(s\)",
        done.stdout,
    ), done.stdout
    assert sorted(e["event_id"] for e in db_events(tmp_path)) == sorted(BEFORE + DURING)

    with ManagerProcess(config) as manager:  # and the next manager stores events again
        assert status_json(config)["manager"]["db_error"] == ""
        journal_events(tmp_path, "cam", ["after-1"])
        wait_for(
            lambda: "after-1" in {e["event_id"] for e in db_events(tmp_path)},
            15,
            "an event journalled after the rebuild in DuckDB",
        )
