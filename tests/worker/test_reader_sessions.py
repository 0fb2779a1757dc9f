"""A looping file starts a new reading session at each loop, and the reader counts them:
the worker tells the rules, so that no window of frames spans the cut."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from cashwatch.config import CameraConfig
from cashwatch.worker.reader import FrameReader
from tests.harness import wait_for


def test_each_loop_of_a_file_is_a_new_session(tmp_path: Path) -> None:
    clip = tmp_path / "ten_frames.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    for i in range(10):
        writer.write(np.full((48, 64, 3), i * 20, np.uint8))
    writer.release()
    frames: list[float] = []
    states: list[str] = []
    stop = threading.Event()
    camera = CameraConfig(id="cam", source=str(clip), pace=False)
    reader = FrameReader(
        camera, lambda frame, ts: frames.append(ts), lambda state, _: states.append(state), stop
    )
    reader.start()
    try:
        wait_for(lambda: reader.sessions >= 3, 30, "three loops of the file")
    finally:
        stop.set()
        reader.join(10)
    # every session after the first began with a loop: about 10 frames each
    assert len(frames) >= 10 * (reader.sessions - 1)
    assert reader.reconnects == 0, "a loop is not a reconnect"
    # nor an outage: status read while the file reopened said "reconnecting" (a CI run
    # caught a camera "not running" that way)
    assert states == ["connecting", "running"] + ["running"] * (reader.sessions - 1), states
