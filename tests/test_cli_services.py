"""`cashwatch status` shows the shared inference services below the cameras: their load
(queue, batches, model time), restarts and why one is down, read from real shared memory
as a manager publishes it (this process stands in for the manager)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cashwatch.cli import SERVICE_COLUMNS, main
from cashwatch.shm.status import StatusTable, WorkerStatus
from tests.dashboard.builders import SERVICE_SECRET, publish_services
from tests.harness import camera_entry, write_config


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[Path]:
    """A config whose data folder has a live status table with one running camera."""
    config = write_config(tmp_path / "cashwatch.toml", [camera_entry("door", "demo:walk")])
    table = StatusTable.create(tmp_path, 4, config)
    table.set_header(manager_pid=os.getpid(), manager_started_ts=time.time())
    table.update_manager(
        0, camera_id="door", state="starting", run_id="run", pid=os.getpid(), start_ts=time.time()
    )
    table.write_worker(0, WorkerStatus(run_id="run", state="running", camera_fps=15.0))
    yield config
    table.close()


def _status(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    table = StatusTable.attach(config.parent)
    table.set_header(manager_heartbeat_ts=time.time())  # as the manager beats every loop
    table.close()
    assert main(["status", *args, "--config", str(config)]) == 0
    return capsys.readouterr().out


def test_services_follow_the_cameras_in_100_columns_with_their_errors(
    manager: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    services = publish_services(manager.parent)
    try:
        lines = _status(manager, capsys).splitlines()
    finally:
        services.close()
    assert max(len(line) for line in lines) <= 100, "\n".join(lines)
    at = lines.index("") + 1  # a blank line after the cameras' table
    assert lines[at].split() == [
        "service",
        "state",
        "device",
        "uptime",
        "restarts",
        "cams",
        "queue",
        "batch",
        "inf",
        "ms",
        "dropped",
        "failed",
    ]
    assert lines[at + 1].split() == [
        "inference-0",
        "running",
        "cpu",
        "0-1",
        "111:06:40",
        "2",
        "12",
        "3/11",
        "3.5/12",
        "48.5",
        "17",
        "2",
    ]
    assert lines[at + 2].startswith("  error: exited with code -9 while reading rtsp://admin:***@")
    assert lines[at + 3].split()[:5] == ["inference-1", "error", "cpu", "2-3", "00:00:00"]
    assert lines[at + 4] == "  error: exited with code 1: no model file; restarting in 8.0 s"
    assert SERVICE_SECRET not in "\n".join(lines) and "w0rd" not in "\n".join(lines)


def test_wide_and_json_show_every_service_field_masked(
    manager: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    services = publish_services(manager.parent)
    try:
        wide = _status(manager, capsys, "--wide")
        document = json.loads(_status(manager, capsys, "--json"))
    finally:
        services.close()
    assert "w0rd" not in wide
    lines = wide.splitlines()
    assert lines[lines.index("") + 1].split() == list(SERVICE_COLUMNS)
    assert "123456789" in wide and "pose=yolo11n-pose@openvino-f32-640" in wide

    assert set(document) == {"manager", "workers", "services"}
    first, second = document["services"]
    assert (first["name"], first["state"], first["device"]) == ("inference-0", "running", "cpu 0-1")
    assert (first["queue_len"], first["queue_max"], first["batch_max"]) == (3, 11, 12)
    assert (first["inference_ms"], first["dropped"], first["failed"]) == (48.5, 17, 2)
    assert (first["videos"], first["video_ms"]) == (41, 512.5)  # the violence verifier's looks
    assert first["error"].startswith("exited with code -9 while reading rtsp://admin:***@")
    assert (second["state"], second["restarts"], second["running"]) == ("error", 5, False)


def test_per_camera_models_show_no_services(
    manager: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    narrow = _status(manager, capsys)
    assert "service" not in narrow and narrow.splitlines()[1].startswith("door")
    assert json.loads(_status(manager, capsys, "--json"))["services"] == []
