"""A real RTSP camera that dies, hangs and comes back, next to a file camera."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.conftest import require_media
from tests.faults.helpers import frames_read, wait_frames_grow, wait_state_in
from tests.harness import ManagerProcess, camera_entry, wait_for, write_config
from tests.support.rtsp import CLIP_SOURCE, make_h264_clip

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]

READ_TIMEOUT_S = 2.0
OPEN_TIMEOUT_S = 3.0


def _config(tmp_path: Path, url: str, video: Path) -> Path:
    return write_config(
        tmp_path / "cashwatch.toml",
        [
            camera_entry("live", url, read_timeout_s=READ_TIMEOUT_S, open_timeout_s=OPEN_TIMEOUT_S),
            camera_entry("file", video),
        ],
    )


def _running_both(manager: ManagerProcess) -> None:
    manager.wait_state("live", "running", 40)
    manager.wait_state("file", "running", 40)
    wait_frames_grow(manager, "live", 10, 10)


def test_killed_server_reconnects_and_comes_back_at_a_new_size(
    tmp_path: Path, rtsp_server, rtsp_clip, make_video
) -> None:
    server = rtsp_server({"cam": rtsp_clip.path})
    config = _config(tmp_path, server.url("cam"), make_video("file.avi", seconds=2))
    with ManagerProcess(config) as manager:
        _running_both(manager)
        assert (
            manager.worker("live")["width"],
            manager.worker("live")["height"],
        ) == rtsp_clip.size_wh
        server.stop()
        killed = time.monotonic()
        broken = wait_state_in(manager, "live", {"reconnecting"}, 5)
        assert time.monotonic() - killed < 5
        assert broken["last_error"], "the cause is shown"
        # while the camera is down: it keeps reconnecting, the file camera keeps reading
        file_before, outage_start = frames_read(manager, "file"), time.monotonic()
        wait_for(
            lambda: "connection refused" in manager.worker("live")["last_error"],
            10,
            "a failed reconnect naming the refused connection",
        )
        wait_frames_grow(manager, "file", 30, 10)
        rate = (frames_read(manager, "file") - file_before) / (time.monotonic() - outage_start)
        assert rate > 8, f"the file camera slowed to {rate:.1f} fps during the outage"
        live = manager.worker("live")
        assert live["state"] == "reconnecting" and live["restarts"] == 0
        # the camera reboots with another resolution: the worker follows it
        server.mounts["cam"] = make_h264_clip(
            require_media(CLIP_SOURCE), tmp_path / "small.mp4", size_wh=(320, 180)
        ).path
        server.start()
        returned = time.monotonic()
        manager.wait_state("live", "running", 10)
        assert time.monotonic() - returned < 10
        wait_for(
            lambda: (
                (manager.worker("live")["width"], manager.worker("live")["height"]) == (320, 180)
            ),
            10,
            "frames at the new size",
        )
        record = manager.worker("live")
        assert record["reconnects"] >= 1 and record["restarts"] == 0
        assert record["last_error"] == ""


def test_hung_server_is_detected_within_the_read_timeout_and_recovers(
    tmp_path: Path, rtsp_server, rtsp_clip, make_video
) -> None:
    server = rtsp_server({"cam": rtsp_clip.path})
    config = _config(tmp_path, server.url("cam"), make_video("file.avi", seconds=2))
    with ManagerProcess(config) as manager:
        _running_both(manager)
        pid = manager.worker("live")["pid"]
        server.pause()
        paused = time.monotonic()
        stalled = wait_state_in(manager, "live", {"reconnecting"}, READ_TIMEOUT_S + 5)
        detected_s = time.monotonic() - paused
        # the stall is one read timeout, plus up to one status period and the poll
        assert detected_s <= READ_TIMEOUT_S + 1.5, f"hang noticed after {detected_s:.1f} s"
        assert re.search(r"stalled|no frame", stalled["last_error"]), stalled["last_error"]
        wait_frames_grow(manager, "file", 30, 10)  # the other camera does not wait
        server.resume()
        resumed = time.monotonic()
        manager.wait_state("live", "running", 10)
        assert time.monotonic() - resumed < 10
        wait_frames_grow(manager, "live", 10, 10)
        record = manager.worker("live")
        assert record["pid"] == pid and record["restarts"] == 0, "recovered in-process"
