"""One latest-frame slot per camera, for the live view.

The worker writes the newest (downscaled) frame under a sequence counter; a reader
copies it and checks the counter did not move, so it never sees a torn frame. Only
the slot's name crosses process boundaries, never a frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from cashwatch.shm import segments

MAX_SIDE = 1280
MAX_BOXES = 32
FRAME_HEADER_DTYPE = np.dtype(
    [
        ("seq", "<u8"),
        ("frame_no", "<u8"),
        ("ts", "<f8"),
        ("width", "<u4"),
        ("height", "<u4"),
        ("n_boxes", "<u4"),
        ("_pad", "<u4"),
        # normalised x1, y1, x2, y2, confidence, label (0 person, 1 cash, 2 violence, 3 fire)
        ("boxes", "<f4", (MAX_BOXES, 6)),
        ("boxes_ts", "<f8"),
    ]
)
DATA_OFFSET = 1024
SLOT_SIZE = DATA_OFFSET + MAX_SIDE * MAX_SIDE * 3
assert FRAME_HEADER_DTYPE.itemsize <= DATA_OFFSET


def fit_for_live(frame: np.ndarray) -> np.ndarray:
    """Downscale so the longest side is at most MAX_SIDE (no upscaling)."""
    height, width = frame.shape[:2]
    scale = MAX_SIDE / max(height, width)
    if scale >= 1.0:
        return frame
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


@dataclass
class LiveFrame:
    image: np.ndarray
    frame_no: int
    ts: float
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 6), np.float32))
    boxes_ts: float = 0.0

    @property
    def age_s(self) -> float:
        return time.time() - self.ts


class FrameSlot:
    def __init__(self, shm: object, owner: bool) -> None:
        self._shm = shm
        self._owner = owner
        buf = shm.buf  # type: ignore[attr-defined]
        self.header = np.ndarray((1,), dtype=FRAME_HEADER_DTYPE, buffer=buf, offset=0)
        self.data = np.ndarray(
            (SLOT_SIZE - DATA_OFFSET,), dtype=np.uint8, buffer=buf, offset=DATA_OFFSET
        )

    @classmethod
    def create(cls, data_dir: Path, slot: int) -> FrameSlot:
        return cls(segments.create(segments.frame_name(data_dir, slot), SLOT_SIZE), owner=True)

    @classmethod
    def attach(cls, data_dir: Path, slot: int) -> FrameSlot:
        return cls(segments.attach(segments.frame_name(data_dir, slot)), owner=False)

    def write(self, frame: np.ndarray, frame_no: int, ts: float) -> None:
        image = fit_for_live(frame)
        height, width = image.shape[:2]
        n = height * width * 3
        seq = self.header["seq"]
        seq[0] = int(seq[0]) | 1
        self.data[:n] = image.reshape(-1)
        self.header["width"], self.header["height"] = width, height
        self.header["frame_no"], self.header["ts"] = frame_no, ts
        seq[0] = int(seq[0]) + 1

    def write_boxes(self, boxes: np.ndarray, ts: float) -> None:
        """Latest detections for the live overlay, normalised to 0..1."""
        count = min(len(boxes), MAX_BOXES)
        seq = self.header["seq"]
        seq[0] = int(seq[0]) | 1
        self.header["boxes"][0, :count] = boxes[:count]
        self.header["n_boxes"], self.header["boxes_ts"] = count, ts
        seq[0] = int(seq[0]) + 1

    def read(self, retries: int = 50) -> LiveFrame | None:
        """A consistent copy of the latest frame, or None before the first one."""
        for _ in range(retries):
            before = int(self.header["seq"][0])
            if before % 2:
                time.sleep(0.001)
                continue
            header = self.header[0].copy()
            width, height = int(header["width"]), int(header["height"])
            if width == 0:
                return None
            image = self.data[: width * height * 3].copy().reshape(height, width, 3)
            if int(self.header["seq"][0]) == before:
                boxes = header["boxes"][: int(header["n_boxes"])].copy()
                return LiveFrame(
                    image,
                    int(header["frame_no"]),
                    float(header["ts"]),
                    boxes,
                    float(header["boxes_ts"]),
                )
        return None

    def close(self) -> None:
        del self.header, self.data
        self._shm.close()  # type: ignore[attr-defined]
        if self._owner:
            segments.unlink_quietly(self._shm.name)  # type: ignore[attr-defined]
