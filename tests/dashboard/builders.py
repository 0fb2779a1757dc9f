"""Real state for dashboard tests: a config file, shared memory, a DuckDB file, a clip.

Until the manager runs in these tests, the state it would publish is created here with
the same modules it uses (StatusTable, FrameSlot) and the store's migrations.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import duckdb
import numpy as np

from cashwatch.shm.frames import FrameSlot
from cashwatch.shm.services import ServiceReport, ServiceTable
from cashwatch.shm.status import StatusTable, WorkerStatus
from cashwatch.store.schema import migrate

CONFIG = """\
[dashboard]
host = "{host}"
language = "{language}"

[[cameras]]
id = "cam-a"
name = "Front desk"
site = "lobby"
source = "{video}"

[cameras.zones]
cashier = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]

[[cameras]]
id = "cam-b"
name = "Back office"
site = "office"
source = "rtsp://admin:hunter2@10.0.0.9/stream"
"""

EVENT_ID = "0190000000000aaaabbbbccccdddd01"
# What the cash rule stores (docs/events.md), in pixels of a 1280x720 frame
CASH_DETAILS = {
    "staff_track": 3,
    "customer_track": 7,
    "staff_box": [700.0, 80.0, 1010.0, 700.0],
    "customer_box": [300.0, 90.0, 640.0, 710.0],
    "staff_wrist": [705.0, 402.0],
    "customer_wrist": [664.0, 395.0],
    "wrist_distance_px": 41.6,
    "wrist_distance_body": 0.094,
    "hits": 4,
    "window": 6,
    "frame_wh": [1280, 720],
}


def write_h264_clip(path: Path, seconds: float = 1.0, fps: int = 10) -> Path:
    """A small browser-playable MP4 (H.264 yuv420p, faststart), as the worker writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index in range(int(seconds * fps)):
            image = np.full((240, 320, 3), 30, np.uint8)
            image[:, index * 20 % 320 : index * 20 % 320 + 20] = (0, 200, 255)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def create_history(data_dir: Path, now: float | None = None) -> None:
    """The documented schema with a cash event (clip + snapshot) at site lobby, a fire
    event at site office, and a worker run of each site's camera."""
    now = time.time() if now is None else now
    started = dt.datetime.fromtimestamp(now - 60, dt.UTC)
    day = started.astimezone().strftime("%Y-%m-%d")
    clip = f"clips/{day}/cam-a/{EVENT_ID}.mp4"
    snapshot = f"snapshots/{day}/cam-a/{EVENT_ID}.jpg"
    write_h264_clip(data_dir / clip)
    (data_dir / snapshot).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(data_dir / snapshot), np.full((120, 160, 3), 90, np.uint8))
    with duckdb.connect(str(data_dir / "cashwatch.duckdb")) as conn:
        migrate(conn)
        conn.execute(
            "INSERT INTO events (event_id, camera_id, site, event_type, started_at, ended_at, "
            "confidence, bbox, details, clip_path, snapshot_path, model) "
            "VALUES (?, 'cam-a', 'lobby', 'cash', ?, ?, 0.87, [1.0, 2.0, 3.0, 4.0], ?, ?, ?, "
            "'yolo11n-pose')",
            [
                EVENT_ID,
                started,
                started + dt.timedelta(seconds=2),
                json.dumps(CASH_DETAILS | {"met_at": now - 61.0}),
                clip,
                snapshot,
            ],
        )
        conn.execute(
            "INSERT INTO events (event_id, camera_id, site, event_type, started_at, confidence, "
            "model) VALUES ('office-evt-1', 'cam-b', 'office', 'fire', ?, 0.6, 'x')",
            [started],
        )
        conn.execute(
            "INSERT INTO worker_runs VALUES ('run-1', 'cam-a', 123, 0, ?, NULL, NULL, 0)", [started]
        )
        conn.execute(
            "INSERT INTO worker_runs VALUES ('run-2', 'cam-b', 124, 1, ?, NULL, NULL, 3)", [started]
        )


@dataclass
class LiveState:
    """What a running manager publishes: the status table and the frame slots."""

    table: StatusTable
    slots: list[FrameSlot] = field(default_factory=list)

    def close(self) -> None:
        for slot in self.slots:
            slot.close()
        self.table.close()


RUN_A = "run-a"  # the run the manager started for cam-a, which its worker reports


def worker_status(**fields: Any) -> WorkerStatus:
    """cam-a's worker record (of run RUN_A), as its worker would write it."""
    return WorkerStatus(run_id=RUN_A, **fields)


def set_worker(live: LiveState, slot: int = 0, **fields: Any) -> None:
    """Change fields of a worker's record, as its worker does: the whole record replaced."""
    live.table.write_worker(slot, dataclasses.replace(live.table.read_worker(slot), **fields))


def publish_live(data_dir: Path, config_path: Path, *, manager_pid: int | None = None) -> LiveState:
    table = StatusTable.create(data_dir, capacity=4, config_path=config_path)
    now = time.time()
    table.set_header(
        manager_pid=manager_pid or os.getpid(),
        manager_started_ts=now - 100,
        manager_heartbeat_ts=now,
    )
    table.update_manager(
        0,
        camera_id="cam-a",
        name="Front desk",
        site="lobby",
        state="starting",
        run_id=RUN_A,
        pid=os.getpid(),
        core=1,
        cpu_percent=31.0,
        rss_mib=250.0,
        start_ts=now - 3725,
        heartbeat_ts=now,
        source="/videos/a.mp4",
    )
    table.write_worker(
        0,
        worker_status(
            state="running",
            frames_read=1500,
            frames_processed=1234,
            camera_fps=15.0,
            process_fps=14.9,
            detection_fps=7.4,
            inference_ms=12.5,
            last_frame_ts=now,
            heartbeat_ts=now,
        ),
    )
    table.update_manager(
        1,
        camera_id="cam-b",
        name="Back office",
        site="office",
        state="error",
        pid=0,
        core=-1,
        start_ts=now - 10,
        heartbeat_ts=now,
        error="cannot open rtsp://admin:***@10.0.0.9/stream: timeout",
        source="rtsp://admin:***@10.0.0.9/stream",
        restarts=3,
    )
    slot = FrameSlot.create(data_dir, 0)
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[60:180, 100:220] = (40, 160, 40)
    slot.write(frame, frame_no=42, ts=now)
    slot.write_boxes(np.array([[0.3, 0.25, 0.7, 0.75, 0.9, 0]], np.float32), now)
    return LiveState(table, [slot])


# a crash's message quoting a camera's URL with its password, written raw, as a manager
# that did not mask it would (readers mask again)
SERVICE_SECRET = "pa/ss@w0rd"
SERVICE_CRASH = (
    f"exited with code -9 while reading rtsp://admin:{SERVICE_SECRET}@192.0.2.7/s; "
    "restarting in 1.0 s"
)


def publish_services(data_dir: Path, now: float | None = None) -> ServiceTable:
    """What a manager running shared inference publishes: inference-0 running on cores
    0-1 for 12 cameras (up 111 h, after a crash), inference-1 down after a failed start."""
    now = time.time() if now is None else now
    table = ServiceTable.create(data_dir, capacity=4)
    table.update_supervision(
        0,
        name="inference-0",
        run_id="svc-run-0",
        state="starting",
        pid=os.getpid(),
        device="cpu 0-1",
        restarts=2,
        start_ts=now - 400_000,
        cpu_percent=97.5,
        rss_mib=412.0,
        error=SERVICE_CRASH,
    )
    table.write_report(
        0,
        ServiceReport(
            run_id="svc-run-0",
            state="running",
            heartbeat_ts=now,
            models="pose=yolo11n-pose@openvino-f32-640",
            clients=12,
            queue_len=3,
            queue_max=11,
            requests=123_456_789,
            batches=40_000_000,
            batch_mean=3.5,
            batch_max=12,
            inference_ms=48.5,
            dropped=17,
            failed=2,
            videos=41,
            video_ms=512.5,
        ),
    )
    table.update_supervision(
        1,
        name="inference-1",
        state="error",
        device="cpu 2-3",
        restarts=5,
        error="exited with code 1: no model file; restarting in 8.0 s",
    )
    return table


def heartbeat(live: LiveState) -> None:
    live.table.set_header(manager_heartbeat_ts=time.time())


def write_config(
    path: Path, *, host: str = "127.0.0.1", video: str = "/videos/a.mp4", language: str = "en"
) -> Path:
    path.write_text(CONFIG.format(host=host, video=video, language=language), encoding="utf-8")
    return path


def config_with_media_and_evidence(data_dir: Path) -> Path:
    """A config whose camera plays media/desk.avi, with media/ the allowed source folder,
    and a snapshot of another site's event in the data folder (what Test source and the
    camera actions must never open)."""
    from tests.conftest import write_test_video
    from tests.harness import camera_entry
    from tests.harness import write_config as write_harness_config

    (data_dir / "media").mkdir()
    video = write_test_video(data_dir / "media" / "desk.avi", seconds=0.5)
    snapshot = data_dir / "snapshots" / "2026-01-01" / "cam-b" / "evt.jpg"
    snapshot.parent.mkdir(parents=True)
    # a real video: only where it lies may refuse it, not what it is
    snapshot.write_bytes(video.read_bytes())
    return write_harness_config(
        data_dir / "cashwatch.toml",
        [camera_entry("cam-a", video)],
        dashboard={"source_folders": ["media"]},
    )
