"""The interface every inference backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from cashwatch.core.poses import Poses


class PoseModel(Protocol):
    """Runs one BGR frame (any size) and returns poses in that frame's pixels."""

    name: str  # e.g. "yolo11n-pose@openvino-f32-640", stored with every event
    imgsz: int  # longest input side a whole frame is scaled to
    # Whether `predict(crop, imgsz=…)` runs at that smaller size; a static-shape export
    # always runs at its one size, so crops would save nothing.
    any_size: bool

    def predict(self, frame_bgr: np.ndarray, imgsz: int | None = None) -> Poses:
        """Poses in `frame_bgr`'s pixels; `imgsz` overrides the input size (a stride multiple)."""
        ...
