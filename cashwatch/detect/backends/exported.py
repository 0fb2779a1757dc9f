"""A `PoseModel` around any runtime that runs an exported YOLO pose graph."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cashwatch.core.poses import Poses
from cashwatch.detect.backends.postprocess import postprocess_pose
from cashwatch.detect.backends.preprocess import letterbox, to_blob

# (1, 3, H, W) float32 → (1, 56, N) float32; may reuse its output buffer on the next call
Forward = Callable[[np.ndarray], np.ndarray]


class ExportedPoseModel:
    """Letterbox → runtime → decode → NMS → scale back, all in numpy/OpenCV.

    Args:
        name: e.g. "yolo11n-pose@openvino-f32-640".
        forward: runs the graph on one blob.
        imgsz: longest input side.
        static_hw: the fixed input (height, width) of a static-shape export, or None for a
            dynamic one (padded only to a stride multiple, like Ultralytics does).
        conf, iou: person score threshold and NMS IoU.
    """

    def __init__(
        self,
        name: str,
        forward: Forward,
        imgsz: int,
        static_hw: tuple[int, int] | None,
        conf: float,
        iou: float,
    ) -> None:
        self.name = name
        self.imgsz = imgsz
        self.any_size = static_hw is None
        self.static_hw = static_hw
        self._forward = forward
        self._input_hw = static_hw or (imgsz, imgsz)
        self._conf = conf
        self._iou = iou

    def predict(self, frame_bgr: np.ndarray, imgsz: int | None = None) -> Poses:
        """Find the people in a frame or a crop of one.

        Args:
            frame_bgr: An HxWx3 uint8 BGR image.
            imgsz: The input's longest side, pixels, for a dynamic-shape export (a small
                crop runs smaller); None, or a static export, uses the model's own.

        Returns:
            The people found, in pixels of `frame_bgr`, untracked.

        Raises:
            ValueError: When `frame_bgr` is not an HxWx3 uint8 image.
        """
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(
                f"expected an HxWx3 uint8 BGR frame, got {frame_bgr.shape} {frame_bgr.dtype}"
            )
        input_hw = (imgsz, imgsz) if imgsz and self.any_size else self._input_hw
        image = letterbox(frame_bgr, input_hw, auto=self.any_size)
        output = self._forward(to_blob(image))
        return postprocess_pose(output, image.shape[:2], frame_bgr.shape[:2], self._conf, self._iou)

    def predict_letterboxed(
        self, images: list[np.ndarray], frame_hws: list[tuple[int, int]]
    ) -> list[Poses]:
        """Run inputs letterboxed elsewhere (a camera worker) in one batch.

        Args:
            images: HxWx3 uint8 BGR inputs of one shape, letterboxed like `predict` does.
            frame_hws: For each, the (height, width) of the frame it was made from.

        Returns:
            Each input's people, in pixels of its frame.

        Raises:
            ValueError: When the inputs differ in shape, or a static export gets another.
        """
        shapes = {image.shape for image in images}
        if len(shapes) != 1:
            raise ValueError(f"a batch needs inputs of one shape, got {sorted(shapes)}")
        input_hw = images[0].shape[:2]
        if not self.any_size and input_hw != self._input_hw:
            raise ValueError(f"this model runs {self._input_hw} inputs, got {input_hw}")
        blob = np.concatenate([to_blob(image) for image in images])
        output = self._forward(blob)  # (batch, 56, N), valid until the next call
        return [
            postprocess_pose(output[i : i + 1], input_hw, frame_hw, self._conf, self._iou)
            for i, frame_hw in enumerate(frame_hws)
        ]
