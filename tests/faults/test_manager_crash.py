"""A manager killed with SIGKILL: workers follow it, the next one starts clean and replays
what was journalled but never reached DuckDB."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import psutil
import pytest

from cashwatch.core.events import new_event_id
from cashwatch.store.journal import JournalWriter
from tests.faults.helpers import event_rows
from tests.harness import ManagerProcess, camera_entry, shm_segments, wait_for, write_config
from tests.store.builders import make_record

pytestmark = pytest.mark.slow


def _journal_events(data_dir: Path, camera_id: str, count: int) -> list[str]:
    """Events written as a worker writes them (fsync'd journal lines)."""
    writer = JournalWriter(data_dir, camera_id)
    ids = []
    for _ in range(count):
        event_id = new_event_id(time.time())
        writer.emit_event(make_record(event_id, camera_id=camera_id))
        ids.append(event_id)
    writer.close()
    return ids


def test_killed_manager_takes_its_workers_and_the_next_one_replays(
    tmp_path: Path, make_video
) -> None:
    config = write_config(
        tmp_path / "cashwatch.toml",
        [camera_entry("cam-a", make_video("a.avi")), camera_entry("cam-b", make_video("b.avi"))],
    )
    first = ManagerProcess(config).start()
    try:
        first.wait_state("cam-a", "running", 40)
        first.wait_state("cam-b", "running", 40)
        ingested = _journal_events(tmp_path, "cam-a", 3)
        wait_for(
            lambda: set(ingested) <= set(event_rows(tmp_path)),
            15,
            "the first manager to ingest three events",
        )
        pids = [r["pid"] for r in first.workers().values()]
        first.signal(signal.SIGKILL)
        assert first.proc is not None
        first.proc.wait(10)
        killed = time.monotonic()
    finally:
        first.stop()
    wait_for(
        lambda: (
            not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids)
        ),
        6,
        "workers to exit after their manager died",
    )
    assert time.monotonic() - killed < 5.5
    stale = shm_segments(tmp_path)
    # status, the inference services' table, and per camera its frame and model input
    assert len(stale) == 6, f"a killed manager leaves its segments: {stale}"

    # while no manager runs, cameras' journals still grow (a worker that was mid-write),
    # and the offsets file is lost as if the crash came between commit and save
    pending = _journal_events(tmp_path, "cam-b", 4)
    (tmp_path / "journal" / "offsets.json").unlink()

    with ManagerProcess(config) as second:
        second.wait_state("cam-a", "running", 40)
        assert second.status()["manager"]["manager_pid"] == second.proc.pid  # type: ignore[union-attr]
        assert sorted(shm_segments(tmp_path)) == sorted(stale), "segments are made afresh"
        rows = wait_for(
            lambda: (r := event_rows(tmp_path)) and len(r) >= 7 and r,
            15,
            "all seven events in DuckDB",
        )
        assert set(rows) == set(ingested) | set(pending)
        assert set(rows.values()) == {1}, f"an event was stored twice: {rows}"
        log = (tmp_path / "logs" / "manager.log").read_text()
        assert "removed 6 stale shared-memory segments" in log
        replayed = [int(n) for n in re.findall(r"\((\d+) journal records replayed\)", log)]
        assert replayed[-1] >= 7, replayed
    assert shm_segments(tmp_path) == []
