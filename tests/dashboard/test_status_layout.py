"""A dashboard upgraded beside a manager still running the old code says so, rather
than that the manager is not running."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cashwatch.dashboard.status import read_status
from cashwatch.shm import segments
from cashwatch.shm.status import MAGIC, VERSION


def test_a_status_table_of_another_version_is_named_as_such(tmp_path: Path) -> None:
    old = segments.create(segments.status_name(tmp_path), 4096)
    try:
        np.ndarray((2,), dtype="<u4", buffer=old.buf)[:] = [MAGIC, VERSION - 1]
        live = read_status(tmp_path)
    finally:
        old.close()
        segments.unlink_quietly(old.name)
    assert not live.manager_running
    assert f"layout version {VERSION - 1}" in live.problem
    assert "restart the manager" in live.problem and "not running" not in live.problem
