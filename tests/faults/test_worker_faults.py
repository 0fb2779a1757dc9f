"""Workers that hang or keep dying: the manager restarts them, without a storm."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import psutil
import pytest

from cashwatch.store.db import connect_readonly
from tests.harness import ManagerProcess, camera_entry, wait_for, write_config

pytestmark = pytest.mark.slow

HEARTBEAT_TIMEOUT_S = 3.0
RESTART_IN = re.compile(r"restart in ([\d.]+) s")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _exit_reasons(data_dir: Path) -> list[str]:
    with connect_readonly(data_dir) as conn:
        rows = conn.execute(
            "SELECT exit_reason FROM worker_runs WHERE exit_reason IS NOT NULL"
        ).fetchall()
    return [row[0] for row in rows]


def test_hung_worker_is_killed_and_restarted(tmp_path: Path, make_video) -> None:
    config = write_config(
        tmp_path / "cashwatch.toml",
        [camera_entry("cam", make_video())],
        manager={"heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S},
    )
    with ManagerProcess(config) as manager:
        pid = manager.wait_state("cam", "running", 40)["pid"]
        os.kill(pid, signal.SIGSTOP)  # alive but silent: no heartbeat, no frames
        hung = time.monotonic()
        record = wait_for(
            lambda: (r := manager.worker("cam"))["running"] and r["pid"] != pid and r,
            20,
            "a new worker after the hang",
        )
        # heartbeat timeout + first back-off (1 s) + a spawn on a busy machine
        assert time.monotonic() - hung < HEARTBEAT_TIMEOUT_S + 12
        assert record["restarts"] == 1
        assert _gone(pid), "the hung worker was left behind"
        wait_for(
            lambda: any("heartbeat" in r for r in _exit_reasons(tmp_path)),
            10,
            "the hang recorded in worker_runs",
        )


def test_restart_storm_is_bounded_then_recovers(tmp_path: Path, make_video) -> None:
    config = write_config(
        tmp_path / "cashwatch.toml",
        [camera_entry("cam", make_video())],
        manager={"max_restarts_per_minute": 3, "backoff_initial_s": 0.5, "backoff_max_s": 6.0},
    )
    killed: set[int] = set()
    delays: list[float] = []
    starts: list[float] = []

    def kill_each_new_worker() -> str | None:
        record = manager.worker("cam")
        pid = record["pid"]
        if pid > 0 and pid not in killed:
            killed.add(pid)
            starts.append(time.monotonic())
            os.kill(pid, signal.SIGKILL)
        found = RESTART_IN.search(record["last_error"])
        if (
            found
            and record["pid"] == 0
            and (
                not delays
                or delays[-1] != float(found[1])
                or "times in the last minute" in record["last_error"]
            )
        ):
            delays.append(float(found[1]))
        return record["last_error"] if "times in the last minute" in record["last_error"] else None

    with ManagerProcess(config) as manager:
        throttled = wait_for(
            kill_each_new_worker, 40, "the restart storm to be throttled", interval_s=0.02
        )
        record = manager.worker("cam")
        assert record["state"] == "error", record
        assert "restarted 3 times in the last minute" in throttled
        assert "waiting 6 s" in throttled
        assert delays == sorted(delays) and delays[0] < 1 and delays[-1] == 6.0, delays
        assert len(killed) == 4, f"{len(killed)} starts before throttling: {delays}"
        # left alone, the camera comes back after the long wait
        back = manager.wait_state("cam", "running", 20)
        assert back["pid"] not in killed and back["restarts"] == 4
        assert time.monotonic() - starts[-1] >= 5.0, "the throttled wait was skipped"
