"""A camera worker's own log lines reach `logs/manager.log`, naming the camera and written
by the worker's process; its process is titled `cashwatch:<camera>`: a real manager with
one demo camera."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import psutil

from tests.harness import ManagerProcess, camera_entry, wait_for, write_config


def _lines_of(log: Path, origin: str, pid: int) -> list[str]:
    """The log's lines written by process `pid` as `origin` (manager, camera:<id>)."""
    if not log.exists():
        return []
    tag = re.compile(rf"^\S+ \S+ {re.escape(origin)}\[{pid}\] ")
    return [line for line in log.read_text().splitlines() if tag.match(line)]


def test_a_demo_camera_logs_into_the_managers_log_from_its_own_process(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cashwatch.toml", [camera_entry("till", "demo:walk")])
    log = tmp_path / "logs" / "manager.log"
    with ManagerProcess(config) as manager:
        assert manager.proc is not None
        first = manager.wait_state("till", "running", 60)["pid"]
        assert first not in (0, manager.proc.pid)
        lines = wait_for(
            lambda: _lines_of(log, "camera:till", first),
            20,
            "a line of the worker's process in manager.log",
        )
        assert any("camera till" in line for line in lines), lines
        process = psutil.Process(first)
        assert process.name() == "cashwatch:till"  # ps -o comm, top
        assert process.cmdline()[0] == "cashwatch:till"  # ps -o args
        assert _lines_of(log, "manager", manager.proc.pid), "the manager's own lines too"

        # Killed, as the heartbeat watchdog kills a hung worker: the manager goes on
        # writing its own lines and the next worker's.
        os.kill(first, signal.SIGKILL)
        manager_pid = manager.proc.pid
        wait_for(
            lambda: any(
                "camera till:" in line and "SIGKILL" in line
                for line in _lines_of(log, "manager", manager_pid)
            ),
            30,
            "the manager's line about the killed worker",
        )
        second = wait_for(
            lambda: (pid := manager.worker("till")["pid"]) not in (0, first) and pid,
            30,
            "the restarted worker",
        )
        wait_for(
            lambda: _lines_of(log, "camera:till", second),
            20,
            "a line of the restarted worker in manager.log",
        )
