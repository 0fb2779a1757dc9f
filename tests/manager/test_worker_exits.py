"""Why a worker exited reaches the manager's log and the camera's status, and the
demo's first-start failure (exit code 255, no reason) is gone: real manager processes,
real shared memory."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cashwatch.manager.supervisor import NO_NOTE, MonitoredWorker, worker_exit_reason
from cashwatch.shm import segments
from cashwatch.status import read_status
from tests.harness import REPO, ManagerProcess, camera_entry, wait_for, write_config

# Run in a manager process: an audit hook notes every variable a thread other than the
# main one adds to the environment (os.putenv of a name not yet there). Adding one while
# the main thread spawns a worker can make that worker's exec fail (exit code 255).
AUDITED_MANAGER = """
import os, sys, threading
from cashwatch.cli import main
log = open(sys.argv[1], "a", buffering=1)
def hook(event, args):
    if event == "os.putenv" and threading.current_thread() is not threading.main_thread():
        name = os.fsdecode(args[0])
        if name not in os.environ:
            log.write(f"{threading.current_thread().name}\\t{name}\\n")
sys.addaudithook(hook)
sys.exit(main(["run", "--config", sys.argv[2]]))
"""


@pytest.mark.slow
def test_no_thread_adds_to_the_environment_while_workers_are_spawned(
    tmp_path: Path, make_video
) -> None:
    # The demo's shape: a camera without the pose model starts at once, while the model
    # is prepared on a thread for the other (weights that do not exist: it fails fast,
    # after configuring the environment, and that camera runs without detection).
    config = write_config(
        tmp_path / "cashwatch.toml",
        [
            camera_entry("plain", make_video()),
            camera_entry("posed", make_video("posed.avi"), detection={}),
        ],
        model={"weights": str(tmp_path / "missing-pose.pt")},
    )
    added = tmp_path / "added-by-threads.txt"
    added.touch()
    manager = subprocess.Popen(
        [sys.executable, "-c", AUDITED_MANAGER, str(added), str(config)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: (
                {r["state"] for r in read_status(tmp_path)["workers"].values()} == {"running"}
                and len(read_status(tmp_path)["workers"]) == 2
            ),
            60,
            "both cameras running",
        )
        assert "detection disabled" in read_status(tmp_path)["workers"]["posed"]["last_error"]
    finally:
        manager.send_signal(signal.SIGTERM)
        manager.wait(60)
    assert added.read_text() == "", "variables added by threads while workers start"


@pytest.mark.slow
def test_a_worker_that_fails_at_start_says_why_in_status_and_log(
    tmp_path: Path, make_video
) -> None:
    config = write_config(tmp_path / "cashwatch.toml", [camera_entry("cam", make_video())])
    with ManagerProcess(config) as manager:
        record = manager.wait_state("cam", "running", 30)
        # What systemd's RemoveIPC does to an ordinary user's segments at log-out: the
        # camera's frame slot is gone, so every new worker fails to attach to it.
        assert segments.unlink_quietly(segments.frame_name(tmp_path, record["slot"]))
        os.kill(record["pid"], signal.SIGKILL)
        failed = wait_for(
            lambda: "code 1" in (e := manager.worker("cam")["last_error"]) and e,
            30,
            "the failed restart in the camera's status",
        )
        assert failed.startswith("worker exited with code 1: FileNotFoundError: "), failed
        log = tmp_path / "logs" / "manager.log"
        wait_for(
            lambda: "camera cam: worker exited with code 1: FileNotFoundError: " in log.read_text(),
            10,
            "the reason in the manager's log",
        )


def _exit_255() -> None:
    os._exit(255)  # as a worker whose exec failed: no Python code of ours ran


def test_an_exit_without_a_note_is_said_to_have_given_no_reason(tmp_path: Path) -> None:
    from cashwatch.config import CameraConfig

    ctx = mp.get_context("spawn")
    reader, writer = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_exit_255)
    process.start()
    writer.close()
    process.join(30)
    worker = MonitoredWorker(
        camera=CameraConfig(id="c", source=str(tmp_path / "v.avi")),
        slot=0,
        process=process,
        exit_note=reader,
    )
    assert worker_exit_reason(worker) == f"exited with code 255 {NO_NOTE}"
    assert worker.exit_note is None and reader.closed
