from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cashwatch.shm import segments
from cashwatch.shm.frames import FrameSlot
from cashwatch.shm.status import MAGIC, VERSION, NoFreeSlot, StatusLayoutError, StatusTable
from cashwatch.status import ManagerNotRunning, read_status


@pytest.fixture
def table(tmp_path: Path):
    table = StatusTable.create(tmp_path, 4, tmp_path / "c.toml")
    yield table
    table.close()


def test_round_trip_and_reader_sees_writes(tmp_path: Path, table: StatusTable) -> None:
    table.update(1, camera_id="cam", state="running", frames_read=42, last_error="é" * 300)
    reader = StatusTable.attach(tmp_path)
    record = reader.read_all()["cam"]
    assert record["state"] == "running"
    assert record["frames_read"] == 42
    assert record["slot"] == 1
    assert record["last_error"].startswith("éé")  # cut at a character boundary
    reader.close()
    assert segments.status_name(tmp_path) in segments.existing_segments(tmp_path), \
        "a reader's close must never unlink"


def test_attaching_process_exit_does_not_unlink(tmp_path: Path, table: StatusTable) -> None:
    code = ("from pathlib import Path; from cashwatch.shm.status import StatusTable; "
            f"t = StatusTable.attach(Path({str(tmp_path)!r})); print(t.capacity)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "4"
    assert "leaked" not in out.stderr
    assert segments.status_name(tmp_path) in segments.existing_segments(tmp_path)


def test_torn_record_is_not_returned_while_writer_is_mid_update(table: StatusTable) -> None:
    table.update(0, camera_id="cam", frames_read=1)
    table.records["seq"][0] += 1  # a writer that is half way through
    assert table.read(0, retries=3) is not None  # bounded: a dead writer cannot hang readers
    table.clear_lock(0)
    assert int(table.records["seq"][0]) % 2 == 0


def test_free_slot_and_capacity_error(table: StatusTable) -> None:
    for slot in range(4):
        table.update(table.free_slot(), camera_id=f"c{slot}")
    with pytest.raises(NoFreeSlot, match=r"all 4 camera slots.*max_cameras.*restart"):
        table.free_slot()


def test_the_database_error_travels_in_the_header(tmp_path: Path, table: StatusTable) -> None:
    table.set_header(db_error="events cannot be stored: Corrupt database file")
    reader = StatusTable.attach(tmp_path)
    try:
        header = reader.read_header()
    finally:
        reader.close()
    assert header["db_error"] == "events cannot be stored: Corrupt database file"
    assert header["version"] == VERSION == 3


def test_a_table_of_another_layout_version_is_refused_with_why(tmp_path: Path) -> None:
    """A dashboard upgraded beside a manager still running the old code must not read
    every header field after the change at the wrong offset."""
    old = segments.create(segments.status_name(tmp_path), 4096)
    try:
        np.ndarray((2,), dtype="<u4", buffer=old.buf)[:] = [MAGIC, 2]
        with pytest.raises(StatusLayoutError, match=r"layout version 2.*reads version 3.*"
                           r"restart the manager"):
            StatusTable.attach(tmp_path)
        with pytest.raises(ManagerNotRunning, match="layout version 2"):
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


@pytest.mark.parametrize("field", ["last_error", "source"])
def test_a_password_is_masked_before_a_long_text_is_cut(table: StatusTable, field: str) -> None:
    # The cut falls inside the password, before the `@` that marks it: masked after the
    # cut, the remnant would not look like a URL's credentials and would be shown.
    size = table.records.dtype[field].itemsize
    prefix = "x" * (size - len("rtsp://admin:") - 4)
    table.update(0, camera_id="cam", **{field: f"{prefix}rtsp://admin:pa/ss@w0rd@10.0.0.9/live"})
    shown = table.read(0)[field]  # type: ignore[index]
    assert "pa/s" not in shown and "w0rd" not in shown
    assert "rtsp://admin:***" in shown


def test_header_texts_are_masked_before_they_are_cut(table: StatusTable) -> None:
    size = table.header.dtype["config_error"].itemsize
    text = "y" * (size - 16) + "http://u:hunter2-long@cam.example/snap"
    table.set_header(config_error=text, db_error="see rtsp://u:hunter2@cam/x")
    header = table.read_header()
    assert "hunter" not in header["config_error"] + header["db_error"]
