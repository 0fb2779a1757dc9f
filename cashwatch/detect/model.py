"""The interface every inference backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from cashwatch.detect.poses import Poses


class PoseModel(Protocol):
    """Runs one BGR frame (any size) and returns poses in that frame's pixels."""

    name: str  # e.g. "yolo11n-pose@openvino-f32-640", stored with every event

    def predict(self, frame_bgr: np.ndarray) -> Poses: ...
