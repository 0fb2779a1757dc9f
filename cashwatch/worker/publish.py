"""Where a camera worker publishes its status and live frame.

A local worker writes straight into the manager's shared memory (`StatusTable`,
`FrameSlot`, which satisfy these protocols as they are). A worker on another machine has
no such memory: it keeps only the latest status and frame in a `LatestState`, which the
manager polls and copies into its own shared memory. Latest-only on both paths: a slow
reader skips frames, it never makes a queue grow.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np
import psutil

from cashwatch.shm.frames import fit_for_live

LIVE_JPEG_QUALITY = 80


class StatusSink(Protocol):
    def update(self, slot: int, **fields: Any) -> None: ...


class FrameSink(Protocol):
    def write(self, frame: np.ndarray, frame_no: int, ts: float) -> None: ...

    def write_boxes(self, boxes: np.ndarray, ts: float) -> None: ...


@dataclass(frozen=True)
class LiveUpdate:
    """What one poll of a remote worker returns: small, picklable, latest values only.

    `heartbeat_age_s` is measured on the worker's machine, so the manager can place the
    heartbeat on its own clock and a skewed node clock cannot fake a hang.
    """

    status: dict[str, Any]
    heartbeat_age_s: float
    frame_jpeg: bytes | None = None
    frame_no: int = 0
    frame_ts: float = 0.0
    boxes: np.ndarray | None = None
    boxes_ts: float = 0.0


@dataclass
class LatestStatus:
    """The status record of one worker, merged field by field like `StatusTable.update`."""

    fields: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, slot: int, **fields: Any) -> None:
        del slot  # one worker, one record
        with self.lock:
            self.fields.update(fields)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return dict(self.fields)


@dataclass
class LatestFrame:
    """The newest live frame and boxes. The worker passes a new array per frame and never
    refills one in place, so holding the reference is safe; the JPEG is made only when
    a poll takes the frame, not for frames nobody looks at."""

    frame: np.ndarray | None = None
    frame_no: int = 0
    ts: float = 0.0
    boxes: np.ndarray | None = None
    boxes_ts: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, frame: np.ndarray, frame_no: int, ts: float) -> None:
        with self.lock:
            self.frame, self.frame_no, self.ts = frame, frame_no, ts

    def write_boxes(self, boxes: np.ndarray, ts: float) -> None:
        with self.lock:
            self.boxes, self.boxes_ts = np.asarray(boxes, np.float32).copy(), ts

    def take_newer(self, than_frame_no: int) -> tuple[np.ndarray | None, int, float]:
        with self.lock:
            if self.frame is None or self.frame_no <= than_frame_no:
                return None, self.frame_no, self.ts
            return self.frame, self.frame_no, self.ts


class LatestState:
    """Status and live frame of a remote worker, read by `poll`.

    >>> state = LatestState()
    >>> state.status.update(0, state="running", heartbeat_ts=time.time())
    >>> state.poll(0).status["state"]
    'running'
    """

    def __init__(self) -> None:
        self.status = LatestStatus()
        self.frames = LatestFrame()
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first call only starts the measurement

    def poll(self, since_frame_no: int, jpeg_quality: int = LIVE_JPEG_QUALITY) -> LiveUpdate:
        """The latest status; the frame only if it is newer than `since_frame_no`."""
        status = self.status.snapshot()
        # The manager cannot measure a process on another machine: report our own.
        status["cpu_percent"] = self._process.cpu_percent(None)
        status["rss_mib"] = self._process.memory_info().rss / 2**20
        heartbeat = float(status.get("heartbeat_ts", 0.0))
        age = time.time() - heartbeat if heartbeat else float("inf")
        frame, frame_no, ts = self.frames.take_newer(since_frame_no)
        jpeg = None
        if frame is not None:
            ok, encoded = cv2.imencode(".jpg", fit_for_live(frame),
                                       [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
            jpeg = encoded.tobytes() if ok else None
        with self.frames.lock:
            boxes, boxes_ts = self.frames.boxes, self.frames.boxes_ts
        return LiveUpdate(status=status, heartbeat_age_s=age, frame_jpeg=jpeg,
                          frame_no=frame_no, frame_ts=ts, boxes=boxes, boxes_ts=boxes_ts)


def decode_live_frame(jpeg: bytes) -> np.ndarray:
    """BGR image of a polled live frame; raises ValueError on bytes that are no JPEG."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"live frame of {len(jpeg)} bytes is not a decodable JPEG")
    return image
