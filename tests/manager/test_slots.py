"""Camera slots freed in one config edit are used by the cameras of that edit (review 3).

Before, the slot of a broken entry that was gone was released only after the edit's
cameras were placed, and nothing placed an unplaced camera again until the next edit.
"""

from __future__ import annotations

from pathlib import Path

from tests.harness import ManagerProcess, camera_entry, write_config


def test_a_camera_replacing_a_broken_entry_gets_its_slot(tmp_path: Path) -> None:
    config = tmp_path / "cashwatch.toml"
    broken = camera_entry("b", "demo:walk", fps=-5)  # an unknown key: b is rejected
    write_config(config, [camera_entry("a", "demo:walk"), broken], manager={"max_cameras": 2})
    with ManagerProcess(config) as manager:
        manager.wait_state("a", "running")
        manager.wait_state("b", "error")
        write_config(
            config,
            [camera_entry("a", "demo:walk"), camera_entry("c", "demo:walk")],
            manager={"max_cameras": 2},
        )
        manager.wait_state("c", "running", 30)
        assert "b" not in manager.workers()
        assert "slots are in use" not in manager.status()["manager"]["config_error"]


def test_an_unplaced_camera_is_placed_once_a_slot_frees_between_edits(tmp_path: Path) -> None:
    """The loop's retry: a slot freed outside a placement (here a removal on its own)
    is taken by the camera waiting for one, without another config edit."""
    from cashwatch.config import load_config
    from cashwatch.manager.runners.local import LocalRunner
    from cashwatch.manager.service import Manager
    from cashwatch.shm.status import StatusTable

    config = write_config(
        tmp_path / "cashwatch.toml",
        [camera_entry("a", "demo:walk"), camera_entry("c", "demo:walk")],
        manager={"max_cameras": 1},
    )
    manager = Manager(load_config(config))
    manager.runner = LocalRunner()
    manager.status = StatusTable.create(tmp_path, 1, config)
    try:
        manager.apply_config(manager.loaded)
        assert list(manager.workers) == ["a"] and "c" in manager.unplaced
        manager._place_unplaced()  # no slot freed yet: nothing tried, nothing logged
        assert "c" in manager.unplaced
        manager._guarded("a", manager._remove, "a")
        manager._place_unplaced()
        assert list(manager.workers) == ["c"] and not manager.unplaced
        assert manager.status.read_header().config_error == ""
    finally:
        for slot in manager.slots.values():
            slot.close()
        manager.status.close()
