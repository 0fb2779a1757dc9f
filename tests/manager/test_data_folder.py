"""The data folder holds evidence of people: what CashWatch writes there is owner-only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cashwatch.util.files import make_private_dir, readable_by_others
from tests.harness import ManagerProcess, camera_entry, wait_for, write_config

pytestmark = pytest.mark.slow

OWN_FOLDERS = ("journal", "logs", "clips", "snapshots", "models", "requests")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _config_with_data_dir(folder: Path, video: Path) -> Path:
    config = write_config(folder / "cashwatch.toml", [camera_entry("cam", video)])
    config.write_text('data_dir = "data"\n' + config.read_text())
    return config


def _run_until_stored(config: Path, data_dir: Path) -> str:
    """Run the manager until its camera runs and its first journal lines are stored."""
    with ManagerProcess(config, data_dir=data_dir) as manager:
        manager.wait_state("cam", "running", 30)
        wait_for(
            lambda: (data_dir / "journal" / "offsets.json").exists(),
            15,
            "the manager's first worker_run record to be ingested",
        )
    return (data_dir / "logs" / "manager.log").read_text()


def test_a_new_data_folder_and_everything_in_it_is_owner_only(tmp_path: Path, make_video) -> None:
    config = _config_with_data_dir(tmp_path, make_video())
    data_dir = tmp_path / "data"
    _run_until_stored(config, data_dir)

    assert _mode(data_dir) == 0o700
    written = list(data_dir.rglob("*"))
    assert {p.name for p in written} >= {
        *OWN_FOLDERS,
        "cashwatch.duckdb",
        "manager.log",
        "manager.lock",
        "offsets.json",
    }
    loose = {str(p.relative_to(data_dir)): oct(_mode(p)) for p in written if _mode(p) & 0o077}
    assert loose == {}


def test_an_existing_shared_data_folder_is_left_as_it_is_but_said_and_ours_tightened(
    tmp_path: Path, make_video
) -> None:
    config = _config_with_data_dir(tmp_path, make_video())
    data_dir = tmp_path / "data"
    (data_dir / "clips").mkdir(parents=True)
    data_dir.chmod(0o755)  # the admin's folder, maybe shared on purpose
    (data_dir / "clips").chmod(0o755)  # CashWatch's own, from an older version
    log = _run_until_stored(config, data_dir)

    assert _mode(data_dir) == 0o755
    assert f"the data folder {data_dir} can be read by other accounts" in log
    assert f"chmod 700 {data_dir}" in log
    assert all(_mode(data_dir / name) == 0o700 for name in OWN_FOLDERS)


def test_make_private_dir_creates_and_tightens(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    assert readable_by_others(loose)
    assert _mode(make_private_dir(loose)) == 0o700
    assert _mode(make_private_dir(tmp_path / "new")) == 0o700
    assert not readable_by_others(loose)
