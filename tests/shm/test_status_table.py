from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from cashwatch.shm import segments
from cashwatch.shm.frames import FrameSlot
from cashwatch.shm.status import (
    MAGIC,
    READ_PATIENCE_S,
    VERSION,
    WRITER_PATIENCE_S,
    NoFreeSlot,
    StatusLayoutError,
    StatusTable,
    WorkerStatus,
)
from cashwatch.status import TAMPERED_NOTE, ManagerNotRunning, read_status, tampered_note
from cashwatch.status import camera_record as record_of
from tests.conftest import REPO
from tests.harness import wait_for


@pytest.fixture
def table(tmp_path: Path):
    table = StatusTable.create(tmp_path, 4, tmp_path / "c.toml")
    yield table
    table.close()


def test_round_trip_and_reader_sees_writes(tmp_path: Path, table: StatusTable) -> None:
    table.update_manager(1, camera_id="cam", state="starting", run_id="r1")
    table.write_worker(
        1, WorkerStatus(run_id="r1", state="running", frames_read=42, source_error="é" * 300)
    )
    reader = StatusTable.attach(tmp_path)
    camera = reader.read_all()["cam"]
    assert camera.state == "running"
    assert camera.counters.frames_read == 42
    assert camera.slot == 1
    assert camera.worker.source_error.startswith("éé")  # cut at a character boundary
    assert len(camera.worker.source_error.encode()) <= 512
    reader.close()
    assert segments.status_name(tmp_path) in segments.existing_segments(tmp_path), (
        "a reader's close must never unlink"
    )


def test_attaching_process_exit_does_not_unlink(tmp_path: Path, table: StatusTable) -> None:
    code = (
        "from pathlib import Path; from cashwatch.shm.status import StatusTable; "
        f"t = StatusTable.attach(Path({str(tmp_path)!r})); print(t.capacity)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "4"
    assert "leaked" not in out.stderr
    assert segments.status_name(tmp_path) in segments.existing_segments(tmp_path)


def _lock_as(table: StatusTable, pid: int) -> None:
    """The worker's record locked mid-write by process `pid`."""
    table.workers["writer"][0] = pid
    table.workers["seq"][0] |= 1


def test_a_writer_gone_mid_write_does_not_hang_readers(table: StatusTable) -> None:
    table.update_manager(0, camera_id="cam")
    table.write_worker(0, WorkerStatus(frames_read=1))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _lock_as(table, gone.pid)  # it died half way through
    start = time.monotonic()
    assert table.read(0, retries=3) is not None
    assert time.monotonic() - start < WRITER_PATIENCE_S / 2, "it asked, and did not wait on"
    table.clear_lock(0)
    assert int(table.workers["seq"][0]) % 2 == 0


def test_a_writer_stopped_mid_write_does_not_hang_readers(table: StatusTable) -> None:
    table.update_manager(0, camera_id="cam")
    table.write_worker(0, WorkerStatus(frames_read=1))
    stopped = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stopped.send_signal(signal.SIGSTOP)
        wait_for(lambda: psutil.Process(stopped.pid).status() == "stopped", 10, "stopped")
        _lock_as(table, stopped.pid)
        start = time.monotonic()
        assert table.read(0, retries=3) is not None
        assert time.monotonic() - start < WRITER_PATIENCE_S / 2
    finally:
        stopped.kill()
        stopped.wait()


def test_a_writer_descheduled_mid_write_is_waited_for(table: StatusTable) -> None:
    """On a loaded machine a live writer can be off the CPU mid-write for longer than the
    reader's first patience: the reader waits on, and never returns the torn record."""
    table.update_manager(0, camera_id="cam")
    table.write_worker(0, WorkerStatus(frames_read=1, frames_processed=1))
    _lock_as(table, os.getpid())  # this process: it runs
    table.workers["frames_read"][0] = 2  # half of the write done

    def finish() -> None:
        table.workers["frames_processed"][0] = 2
        table.workers["seq"][0] += 1

    late = threading.Timer(READ_PATIENCE_S * 4, finish)  # descheduled past the patience
    late.start()
    try:
        counters = table.read(0, retries=3)
    finally:
        late.join()
    assert counters is not None
    assert (counters.worker.frames_read, counters.worker.frames_processed) == (2, 2)


def test_free_slot_and_capacity_error(table: StatusTable) -> None:
    for slot in range(4):
        table.update_manager(table.free_slot(), camera_id=f"c{slot}")
    with pytest.raises(NoFreeSlot, match=r"all 4 camera slots.*max_cameras.*restart"):
        table.free_slot()


def test_the_database_error_travels_in_the_header(tmp_path: Path, table: StatusTable) -> None:
    table.set_header(db_error="events cannot be stored: Corrupt database file")
    reader = StatusTable.attach(tmp_path)
    try:
        header = reader.read_header()
    finally:
        reader.close()
    assert header.db_error == "events cannot be stored: Corrupt database file"
    assert header.version == VERSION == 6


def test_a_table_of_another_layout_version_is_refused_with_why(tmp_path: Path) -> None:
    """A dashboard upgraded beside a manager still running the old code must not read
    every header field after the change at the wrong offset."""
    old = segments.create(segments.status_name(tmp_path), 4096)
    try:
        for old_version in (2, 3, 4):  # 3: one record per camera, written by two processes
            np.ndarray((2,), dtype="<u4", buffer=old.buf)[:] = [MAGIC, old_version]
            with pytest.raises(
                StatusLayoutError,
                match=rf"layout version {old_version}; "
                r"this CashWatch reads version 6: restart the manager "
                r"\(`cashwatch run`\), or this dashboard or CLI, so that "
                r"both run the same CashWatch version",
            ):
                StatusTable.attach(tmp_path)
            with pytest.raises(ManagerNotRunning, match=f"layout version {old_version}"):
                read_status(tmp_path)
    finally:
        old.close()
        segments.unlink_quietly(old.name)


def test_frame_slot_downscales_and_returns_consistent_copy(tmp_path: Path) -> None:
    slot = FrameSlot.create(tmp_path, 0)
    try:
        reader = FrameSlot.attach(tmp_path, 0)
        assert reader.read() is None
        frame = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
        slot.write(frame, 7, 123.0)
        slot.write_boxes(np.array([[0.1, 0.2, 0.3, 0.4, 0.9, 0]], np.float32), 123.0)
        live = reader.read()
        assert live is not None
        assert live.image.shape == (720, 1280, 3)
        assert live.frame_no == 7 and live.ts == 123.0
        assert live.boxes.shape == (1, 6)
        reader.close()
    finally:
        slot.close()
    assert segments.existing_segments(tmp_path) == []


@pytest.mark.parametrize(
    "field", ["error", "source", "source_error", "journal_error", "detection_error"]
)
def test_a_password_is_masked_before_a_long_text_is_cut(table: StatusTable, field: str) -> None:
    # The cut falls inside the password, before the `@` that marks it: masked after the
    # cut, the remnant would not look like a URL's credentials and would be shown.
    in_manager = field in table.managers.dtype.names
    size = (table.managers if in_manager else table.workers).dtype[field].itemsize
    prefix = "x" * (size - len("rtsp://admin:") - 4)
    text = f"{prefix}rtsp://admin:pa/ss@w0rd@10.0.0.9/live"
    table.update_manager(0, camera_id="cam", **({field: text} if in_manager else {}))
    if not in_manager:
        table.write_worker(0, WorkerStatus(**{field: text}))
    camera = table.read(0)
    assert camera is not None
    shown = getattr(camera.manager if in_manager else camera.worker, field)
    assert "pa/s" not in shown and "w0rd" not in shown
    assert "rtsp://admin:***" in shown


def test_header_texts_are_masked_before_they_are_cut(table: StatusTable) -> None:
    size = table.header.dtype["config_error"].itemsize
    text = "y" * (size - 16) + "http://u:hunter2-long@cam.example/snap"
    table.set_header(config_error=text, db_error="see rtsp://u:hunter2@cam/x")
    header = table.read_header()
    assert "hunter" not in header.config_error + header.db_error


def test_two_processes_write_their_own_record_and_a_reader_never_sees_a_torn_one(
    tmp_path: Path, table: StatusTable
) -> None:
    """The manager and the worker write the same slot at once, each its own record
    under its own sequence lock: every record read is whole, all of one write."""
    table.update_manager(0, camera_id="cam", state="starting", run_id="run")
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.shm.writers", role, str(tmp_path), "3"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for role in ("manager", "worker")
    ]
    seen_manager, seen_worker, reads = set(), set(), 0
    try:
        while any(writer.poll() is None for writer in writers):
            camera = table.read(0)
            assert camera is not None
            reads += 1
            manager, worker = camera.manager, camera.worker
            if manager.pid:
                n = manager.pid
                assert (
                    manager.name,
                    manager.node,
                    manager.restarts,
                    manager.start_ts,
                    manager.error,
                ) == (f"n{n}", f"node-{n}", n, float(n), f"{n}:" + "m" * 400), manager
                seen_manager.add(n)
            if worker.frames_read:
                n = worker.frames_read
                assert (
                    worker.frames_processed,
                    worker.events_detected,
                    worker.heartbeat_ts,
                    worker.reconnects,
                    worker.source_error,
                    worker.journal_error,
                ) == (n, n, float(n), n, f"{n}:" + "w" * 400, f"{n}"), worker
                seen_worker.add(n)
    finally:
        for writer in writers:
            writer.wait(30)
    outputs = [writer.communicate()[0] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], outputs
    rounds = [int(out) for out in outputs]
    assert min(rounds) > 1000, rounds  # both wrote all along, not one after the other
    assert len(seen_manager) > 10 and len(seen_worker) > 10, (reads, rounds)
    assert camera.manager.camera_id == "cam", "the worker never writes the manager's fields"


def _live(table: StatusTable, **worker: object) -> None:
    table.update_manager(0, camera_id="cam", state="starting", run_id="r2", pid=7)
    table.write_worker(
        0, WorkerStatus(run_id="r2", state="running", camera_fps=15.0, frames_read=99, **worker)
    )  # type: ignore[arg-type]


def test_the_worker_speaks_for_the_camera_only_during_the_run_the_manager_started(
    table: StatusTable,
) -> None:
    _live(table, source_error="")
    camera = table.read(0)
    assert camera is not None and camera.live and camera.state == "running"
    assert record_of(camera)["camera_fps"] == 15.0
    table.update_manager(0, state="error", pid=0, error="exited with code 1; restart in 1 s")
    camera = table.read(0)
    assert camera is not None and not camera.live
    record = record_of(camera)
    assert (record["state"], record["last_error"]) == (
        "error",
        "exited with code 1; restart in 1 s",
    )
    assert record["camera_fps"] == 0.0 and record["frames_read"] == 99, "last numbers kept"
    table.update_manager(0, state="starting", run_id="r3", error="")
    camera = table.read(0)
    assert camera is not None and camera.state == "starting", "the old run's record is ignored"
    assert record_of(camera)["frames_read"] == 0


def test_tamper_is_an_explicit_field_and_readers_compose_the_note(table: StatusTable) -> None:
    _live(table, tamper_reason="covered", tamper_since_ts=1_800_000_000.0)
    camera = table.read(0)
    assert camera is not None and camera.tamper_reason == "covered"
    record = record_of(camera)
    assert record["tamper_reason"] == "covered"
    assert record["last_error"] == tampered_note("covered", 1_800_000_000.0)
    assert record["last_error"].startswith(TAMPERED_NOTE)
    # the source's trouble comes first, as the worker has always ordered them
    _live(
        table,
        tamper_reason="covered",
        source_error="the stream stalled for 9.0 s",
        journal_error="2 journal record(s) held in memory",
    )
    camera = table.read(0)
    assert camera is not None
    assert record_of(camera)["last_error"] == "the stream stalled for 9.0 s"
    _live(
        table,
        journal_error="2 journal record(s) held in memory",
        detection_error="detection disabled: x",
    )
    camera = table.read(0)
    assert camera is not None
    assert record_of(camera)["last_error"] == "2 journal record(s) held in memory"


@pytest.mark.parametrize("field", ["source_error", "journal_error", "detection_error"])
def test_a_worker_error_keeps_as_much_text_as_last_error_did(
    table: StatusTable, field: str
) -> None:
    # an exception text with paths (a model runtime's, a full disk's) ran to ~500 bytes in
    # the single last_error of layout 3; splitting it by cause must not cut it shorter
    text = "detection disabled: " + "/very/long/path" * 30
    table.write_worker(0, WorkerStatus(**{field: text[:500]}))
    shown = getattr(table.read_worker(0), field)
    assert shown == text[:500]


def test_a_value_the_record_refuses_leaves_it_unlocked(table: StatusTable) -> None:
    table.update_manager(0, camera_id="cam")
    with pytest.raises((ValueError, TypeError)):
        table.update_manager(0, pid="not a number")
    assert int(table.managers["seq"][0]) % 2 == 0, "readers must not wait on a live writer"
    assert table.read(0, retries=3) is not None
