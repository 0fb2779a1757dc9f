"""Ultralytics + torch: the reference implementation, and the way to use a CUDA GPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cashwatch.core.poses import Poses
from cashwatch.detect.offline import disable_ultralytics_sync


def poses_from_ultralytics(result: Any) -> Poses:
    """One `ultralytics.engine.results.Results` of a pose model → `Poses`."""
    if result.keypoints is None:
        raise ValueError("the Ultralytics result has no keypoints: not a pose model")
    return Poses(result.boxes.xyxy.cpu().numpy(), result.boxes.conf.cpu().numpy(),
                 result.keypoints.data.cpu().numpy())


class TorchPoseModel:
    """`YOLO(weights).predict` on one frame; import cost ~5 s and ~770 MiB (FACTS.md)."""

    def __init__(self, name: str, weights: Path, imgsz: int, device: str, threads: int,
                 conf: float, iou: float) -> None:
        import torch
        from ultralytics.models import YOLO

        disable_ultralytics_sync()
        torch.set_num_threads(threads)
        self.name = name
        self.imgsz = imgsz
        self.any_size = True
        self._yolo = YOLO(str(weights), task="pose")
        self._kwargs: dict[str, Any] = {"imgsz": imgsz, "device": device, "conf": conf, "iou": iou,
                        "verbose": False}

    def predict(self, frame_bgr: np.ndarray, imgsz: int | None = None) -> Poses:
        kwargs = {**self._kwargs, "imgsz": imgsz} if imgsz else self._kwargs
        results = list(self._yolo.predict(frame_bgr, **kwargs))  # one frame, one result
        return poses_from_ultralytics(results[0])
