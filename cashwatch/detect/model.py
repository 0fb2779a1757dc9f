"""The interface every inference backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from cashwatch.core.poses import Poses


class ModelUnavailable(Exception):
    """The model could not look this time: the service that runs it is down or late.

    The pipeline goes on without that look (it is tried again on the next frame);
    the message says why, for the camera's status.
    """


class PoseModel(Protocol):
    """Runs one BGR frame (any size) and returns poses in that frame's pixels.

    Attributes:
        name: E.g. "yolo11n-pose@openvino-f32-640", stored with every event.
        imgsz: The longest input side, pixels, a whole frame is scaled to.
        any_size: Whether `predict(crop, imgsz=…)` runs at that smaller size; a
            static-shape export always runs at its one size, so crops would save nothing.
    """

    # read-only: a shared service's model learns them from the service
    @property
    def name(self) -> str:
        """E.g. "yolo11n-pose@openvino-f32-640"."""
        ...

    @property
    def imgsz(self) -> int:
        """The longest input side, pixels."""
        ...

    @property
    def any_size(self) -> bool:
        """Whether smaller crops run at a smaller size."""
        ...

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


class BatchPoseModel(PoseModel, Protocol):
    """A `PoseModel` that also runs inputs already letterboxed, several at once.

    The shared inference service (cashwatch.inference) runs these: camera workers
    letterbox their frames themselves, so same-shape inputs of several cameras can go
    through the runtime in one call.

    Attributes:
        static_hw: The fixed input (height, width) of a static-shape export; None when
            any stride-multiple size runs.
    """

    static_hw: tuple[int, int] | None

    def predict_letterboxed(
        self, images: list[np.ndarray], frame_hws: list[tuple[int, int]]
    ) -> list[Poses]:
        """Find the people in letterboxed inputs of one shape.

        Args:
            images: HxWx3 uint8 BGR inputs, all of one shape, letterboxed as
                `cashwatch.detect.backends.preprocess.letterbox` does.
            frame_hws: For each input, the (height, width) of the frame it was made from.

        Returns:
            Each input's people, in pixels of its frame, untracked.
        """
        ...
