"""A worker's live frame slot has two writing threads (frames, boxes) and one owner."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from cashwatch.shm.frames import FrameSlot
from cashwatch.worker.publish import SerialFrameSink


def test_frames_and_boxes_from_two_threads_are_never_read_torn(tmp_path: Path) -> None:
    slot = FrameSlot.create(tmp_path, 0)
    reader = FrameSlot.attach(tmp_path, 0)
    sink = SerialFrameSink(slot)
    stop = threading.Event()
    written = {"frames": 0, "boxes": 0}

    def frames() -> None:  # the reading thread: frame n is all n % 256
        while not stop.is_set():
            written["frames"] += 1
            n = written["frames"]
            sink.write(np.full((360, 640, 3), n % 256, np.uint8), n, float(n))

    def boxes() -> None:  # the main loop: every value of box set n is n
        while not stop.is_set():
            written["boxes"] += 1
            n = written["boxes"]
            sink.write_boxes(np.full((4, 6), n, np.float32), float(n))

    threads = [threading.Thread(target=frames), threading.Thread(target=boxes)]
    for thread in threads:
        thread.start()
    reads = 0
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            live = reader.read()
            if live is None:
                continue
            reads += 1
            assert live.ts == float(live.frame_no)
            assert (live.image == live.frame_no % 256).all(), "a torn frame"
            if len(live.boxes):
                assert (live.boxes == live.boxes_ts).all(), "torn boxes"
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        reader.close()
        slot.close()
    assert reads > 10 and written["frames"] > 10 and written["boxes"] > 10, (reads, written)
