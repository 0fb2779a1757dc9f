"""Ultralytics + torch: the reference implementation, and the way to use a CUDA GPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cashwatch.core.poses import Poses
from cashwatch.detect.offline import disable_ultralytics_sync


def poses_from_ultralytics(result: Any) -> Poses:
    """Convert one Ultralytics pose result.

    Args:
        result: One `ultralytics.engine.results.Results` of a pose model.

    Returns:
        Its people, in pixels of the frame, untracked.

    Raises:
        ValueError: When the result has no keypoints (not a pose model).
    """
    if result.keypoints is None:
        raise ValueError("the Ultralytics result has no keypoints: not a pose model")
    return Poses(
        result.boxes.xyxy.cpu().numpy(),
        result.boxes.conf.cpu().numpy(),
        result.keypoints.data.cpu().numpy(),
    )


class TorchPoseModel:
    """`YOLO(weights).predict` on one frame; import cost ~5 s and ~770 MiB (FACTS.md).

    Args:
        name: The model's name stored with events, e.g. "yolo11n-pose@torch-f32-640".
        weights: The .pt pose weights.
        imgsz: The input's longest side, pixels.
        device: The torch device, e.g. "cpu" or "cuda:0".
        threads: Torch's intra-op threads.
        conf: The least person score, 0..1.
        iou: The NMS IoU threshold, 0..1.
    """

    def __init__(
        self,
        name: str,
        weights: Path,
        imgsz: int,
        device: str,
        threads: int,
        conf: float,
        iou: float,
    ) -> None:
        import torch
        from ultralytics.models import YOLO

        disable_ultralytics_sync()
        torch.set_num_threads(threads)
        self.name = name
        self.imgsz = imgsz
        self.any_size = True
        self.static_hw: tuple[int, int] | None = None
        self._yolo = YOLO(str(weights), task="pose")
        self._kwargs: dict[str, Any] = {
            "imgsz": imgsz,
            "device": device,
            "conf": conf,
            "iou": iou,
            "verbose": False,
        }

    def predict(self, frame_bgr: np.ndarray, imgsz: int | None = None) -> Poses:
        """Find the people in a frame or a crop of one.

        Args:
            frame_bgr: An HxWx3 uint8 BGR image.
            imgsz: The input's longest side, pixels; None for the model's own.

        Returns:
            The people found, in pixels of `frame_bgr`, untracked.
        """
        kwargs = {**self._kwargs, "imgsz": imgsz} if imgsz else self._kwargs
        results = list(self._yolo.predict(frame_bgr, **kwargs))  # one frame, one result
        return poses_from_ultralytics(results[0])

    def predict_letterboxed(
        self, images: list[np.ndarray], frame_hws: list[tuple[int, int]]
    ) -> list[Poses]:
        """Run inputs letterboxed elsewhere in one batch (one call: one GPU launch).

        Ultralytics letterboxes again, which leaves a stride-multiple input as it is when
        `imgsz` is its longest side; its boxes then come back in input pixels.

        Args:
            images: HxWx3 uint8 BGR inputs of one shape.
            frame_hws: For each, the (height, width) of the frame it was made from.

        Returns:
            Each input's people, in pixels of its frame.
        """
        from cashwatch.detect.backends.postprocess import unletterbox_xy

        input_hw = images[0].shape[:2]
        kwargs = {**self._kwargs, "imgsz": max(input_hw)}
        found = []
        for result, frame_hw in zip(self._yolo.predict(images, **kwargs), frame_hws, strict=True):
            poses = poses_from_ultralytics(result)
            unletterbox_xy(poses.xyxy[:, 0::2], poses.xyxy[:, 1::2], input_hw, frame_hw)
            unletterbox_xy(poses.keypoints[..., 0], poses.keypoints[..., 1], input_hw, frame_hw)
            found.append(poses)
        return found
