"""The sampled frames of a video file, as a live camera's worker would hand them over.

Shared by `cashwatch eval`, the violence trainer and the tests, so every offline figure
sees the same frames at the same timestamps as a live camera with that detection rate.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from cashwatch.core.sampling import detection_stride

FALLBACK_FPS = 25.0  # for files whose container does not say


class ClipUnreadable(ValueError):
    """OpenCV cannot open a video file."""


def sampled_frames(path: Path, detect_fps: float) -> Iterator[tuple[np.ndarray, float]]:
    """The frames of a video file that the detection stride selects.

    Args:
        path: The video file.
        detect_fps: The detection rate, frames per second (the file's own rate, 25 when
            it has none, sets the stride).

    Yields:
        Each selected HxWx3 uint8 BGR frame and its time, seconds since the start.

    Raises:
        ClipUnreadable: OpenCV cannot open the file.
    """
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ClipUnreadable(
            f"OpenCV cannot open clip {path}: not a video file it can decode, or missing"
        )
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or FALLBACK_FPS
        stride = detection_stride(fps, detect_fps)
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            if index % stride == 0:
                yield frame, index / fps
            index += 1
    finally:
        capture.release()
