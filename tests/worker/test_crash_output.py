"""A worker that crashes says why, masked, in the manager's log and on its own stderr
(the manager's stderr; journald under systemd): real worker processes."""

from __future__ import annotations

import multiprocessing as mp
import sys
import threading
from pathlib import Path

import pytest

from cashwatch.config import CameraConfig, ModelConfig
from cashwatch.manager.supervisor import MonitoredWorker, worker_exit_reason
from cashwatch.shm.frames import FrameSlot
from cashwatch.shm.status import StatusTable
from cashwatch.worker.base import install_masking_log, worker_main
from cashwatch.worker.process import EXIT_CRASHED
from cashwatch.worker.spec import WorkerSpec

PASSWORD = "hunter2"
# Whitespace in a URL: the camera's config refuses it, and pydantic's error quotes it whole
BROKEN_SOURCE = f"rtsp://admin:{PASSWORD}@10.0.0.5/li ve"


def test_a_crashing_worker_never_prints_the_password(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    table = StatusTable.create(tmp_path, 4, tmp_path / "c.toml")
    slot = FrameSlot.create(tmp_path, 0)
    camera = CameraConfig(id="till", source=str(tmp_path / "v.avi"))
    spec = WorkerSpec(
        camera=dict(camera.model_dump(mode="json"), source=BROKEN_SOURCE),
        model=ModelConfig().model_dump(mode="json"),
        data_dir=str(tmp_path),
        slot=0,
        manager_pid=0,
        live_every_n=1,
        run_id="r",
    )
    ctx = mp.get_context("spawn")
    reader, writer = ctx.Pipe(duplex=False)
    stop = ctx.Event()  # held here: the child attaches to it while starting
    process = ctx.Process(target=worker_main, args=(spec, stop, writer))
    try:
        process.start()
        writer.close()
        process.join(60)
    finally:
        slot.close()
        table.close()
    assert process.exitcode == EXIT_CRASHED  # what the manager books as a crash
    reason = worker_exit_reason(
        MonitoredWorker(camera=camera, slot=0, process=process, exit_note=reader)
    )
    assert reason.startswith("exited with code 1: ") and "ValidationError" in reason, reason
    err = capfd.readouterr().err
    assert "Traceback" in err and "admin:***@10.0.0.5" in err  # said, masked
    assert PASSWORD not in err and PASSWORD not in reason


def _crash_in_a_thread() -> None:
    install_masking_log("worker:till")

    def fail() -> None:
        raise ValueError(f"cannot open rtsp://admin:{PASSWORD}@10.0.0.5/live")

    thread = threading.Thread(target=fail, name="reader")
    thread.start()
    thread.join()
    sys.exit(0)


def test_an_exception_left_to_a_thread_is_printed_masked(capfd: pytest.CaptureFixture[str]) -> None:
    process = mp.get_context("spawn").Process(target=_crash_in_a_thread)
    process.start()
    process.join(60)
    err = capfd.readouterr().err
    assert "thread reader" in err and "cannot open rtsp://admin:***@10.0.0.5/live" in err
    assert PASSWORD not in err
