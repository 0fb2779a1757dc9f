"""Failures the manager used to let through (review item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cashwatch.store.ingest import OFFSETS_FILE
from tests.harness import ManagerProcess, camera_entry, wait_for, write_config
from tests.store.builders import journal_events


def test_an_unwritable_offsets_file_neither_stops_the_start_nor_floods_the_log(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path / "cashwatch.toml", [camera_entry("a", "demo:walk")])
    journal_events(tmp_path, "cam1", ["e1"])
    (tmp_path / "journal" / OFFSETS_FILE).mkdir()  # saving offsets fails (also for root)
    with ManagerProcess(config) as manager:  # before: IsADirectoryError ended the start
        manager.wait_state("a", "running")
        error = wait_for(lambda: manager.status()["manager"]["db_error"], 15, "db_error")
        assert "offsets.json" in error and len(error) < 1024
    log = (tmp_path / "logs" / "manager.log").read_text()
    assert "Traceback" not in log  # a known failure, said once, not a trace 5 times a second
    assert log.count("cannot ingest into") <= 3


def test_a_failed_stop_of_a_removed_camera_still_frees_its_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cashwatch.config import load_config
    from cashwatch.manager import service
    from cashwatch.manager.runners.local import LocalRunner
    from cashwatch.shm.status import StatusTable

    config = write_config(
        tmp_path / "cashwatch.toml", [camera_entry("a", "demo:walk")], manager={"max_cameras": 1}
    )
    manager = service.Manager(load_config(config))
    manager.runner = LocalRunner()
    manager.status = StatusTable.create(tmp_path, 1, config)
    try:
        manager.apply_config(manager.loaded)

        def failing_stop(*_: object) -> None:
            raise OSError("the worker's pipe is gone")

        monkeypatch.setattr(service, "stop_workers", failing_stop)
        manager._guarded("a", manager._remove, "a")
        assert "a" in manager.unplaced and "a" not in manager.workers
        assert manager.status.free_slot() == 0  # before: held by a worker nobody tracks
        assert not manager.slots
    finally:
        for slot in manager.slots.values():
            slot.close()
        manager.status.close()
