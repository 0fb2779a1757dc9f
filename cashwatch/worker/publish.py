"""Where a camera worker publishes its status and live frame.

A local worker writes straight into the manager's shared memory (`StatusTable`,
`FrameSlot`, which satisfy these protocols as they are), its own record only. A worker
on another machine has no such memory: it keeps only the latest status and frame in a
`LatestState`, which the manager polls and copies into its own shared memory.
Latest-only on both paths: a slow reader skips frames, it never makes a queue grow.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np
import psutil

from cashwatch.shm.frames import fit_for_live
from cashwatch.shm.status import WorkerStatus

LIVE_JPEG_QUALITY = 80


class StatusSink(Protocol):
    def write_worker(self, slot: int, status: WorkerStatus) -> None: ...


class FrameSink(Protocol):
    def write(self, frame: np.ndarray, frame_no: int, ts: float) -> None: ...

    def write_boxes(self, boxes: np.ndarray, ts: float) -> None: ...


class SerialFrameSink:
    """One owner of a worker's live frame slot: the reading thread writes frames, the
    main loop writes boxes, and the slot's sequence lock assumes one writer at a time
    (two interleaved writes can leave its counter even mid-write, and a reader would
    take a torn frame). The lock makes them take turns."""

    def __init__(self, sink: FrameSink) -> None:
        self._sink = sink
        self._lock = threading.Lock()

    def write(self, frame: np.ndarray, frame_no: int, ts: float) -> None:
        with self._lock:
            self._sink.write(frame, frame_no, ts)

    def write_boxes(self, boxes: np.ndarray, ts: float) -> None:
        with self._lock:
            self._sink.write_boxes(boxes, ts)


@dataclass(frozen=True)
class LiveUpdate:
    """What one poll of a remote worker returns: small, picklable, latest values only.

    `heartbeat_age_s` is measured on the worker's machine, so the manager can place the
    heartbeat on its own clock and a skewed node clock cannot fake a hang.
    """

    status: WorkerStatus
    heartbeat_age_s: float
    node: str = ""
    pid: int = 0
    cpu_percent: float = 0.0
    rss_mib: float = 0.0
    frame_jpeg: bytes | None = None
    frame_no: int = 0
    frame_ts: float = 0.0
    boxes: np.ndarray | None = None
    boxes_ts: float = 0.0


@dataclass
class LatestStatus:
    """The latest status record of one worker (replaced whole, as in `StatusTable`)."""

    worker: WorkerStatus = field(default_factory=WorkerStatus)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def write_worker(self, slot: int, status: WorkerStatus) -> None:
        del slot  # one worker, one record
        with self.lock:
            self.worker = status

    def snapshot(self) -> WorkerStatus:
        with self.lock:
            return self.worker


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
    >>> state.status.write_worker(0, WorkerStatus(state="running", heartbeat_ts=time.time()))
    >>> state.poll(0).status.state
    'running'
    """

    def __init__(self, node: str = "", pid: int = 0) -> None:
        self.node, self.pid = node, pid  # where the actor runs, for the manager's record
        self.status = LatestStatus()
        self.frames = LatestFrame()
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first call only starts the measurement

    def poll(self, since_frame_no: int, jpeg_quality: int = LIVE_JPEG_QUALITY) -> LiveUpdate:
        """The latest status; the frame only if it is newer than `since_frame_no`."""
        status = self.status.snapshot()
        heartbeat = status.heartbeat_ts
        age = time.time() - heartbeat if heartbeat else float("inf")
        frame, frame_no, ts = self.frames.take_newer(since_frame_no)
        jpeg = None
        if frame is not None:
            ok, encoded = cv2.imencode(
                ".jpg", fit_for_live(frame), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
            )
            jpeg = encoded.tobytes() if ok else None
        with self.frames.lock:
            boxes, boxes_ts = self.frames.boxes, self.frames.boxes_ts
        # The manager cannot measure a process on another machine: report our own.
        return LiveUpdate(
            status=status,
            heartbeat_age_s=age,
            node=self.node,
            pid=self.pid,
            cpu_percent=self._process.cpu_percent(None),
            rss_mib=self._process.memory_info().rss / 2**20,
            frame_jpeg=jpeg,
            frame_no=frame_no,
            frame_ts=ts,
            boxes=boxes,
            boxes_ts=boxes_ts,
        )


def decode_live_frame(jpeg: bytes) -> np.ndarray:
    """BGR image of a polled live frame; raises ValueError on bytes that are no JPEG."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"live frame of {len(jpeg)} bytes is not a decodable JPEG")
    return image
