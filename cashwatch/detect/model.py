"""The interface every inference backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from cashwatch.core.poses import Poses


class PoseModel(Protocol):
    """Runs one BGR frame (any size) and returns poses in that frame's pixels.

    Attributes:
        name: E.g. "yolo11n-pose@openvino-f32-640", stored with every event.
        imgsz: The longest input side, pixels, a whole frame is scaled to.
        any_size: Whether `predict(crop, imgsz=…)` runs at that smaller size; a
            static-shape export always runs at its one size, so crops would save nothing.
    """

    name: str
    imgsz: int
    any_size: bool

    def predict(self, frame_bgr: np.ndarray, imgsz: int | None = None) -> Poses:
        """Find the people in a frame or a crop of one.

        Args:
            frame_bgr: An HxWx3 uint8 BGR image of any size.
            imgsz: The input's longest side, pixels (a stride multiple), for a smaller
                crop; None for `self.imgsz`.

        Returns:
            The people found, in pixels of `frame_bgr`, untracked.
        """
        ...
