"""Frame → model input, exactly as Ultralytics' predictor prepares it (numpy + OpenCV only).

Ultralytics' `BasePredictor.pre_transform` uses `LetterBox(imgsz, auto=True, stride=32)` for
.pt and dynamic-shape models (predict sets `rect=True`): resize the longest side to imgsz,
then pad each side only up to the next multiple of the stride. Static-shape models get
`auto=False`: padded to the full square.
"""

from __future__ import annotations

import cv2
import numpy as np

PAD_VALUE = 114  # Ultralytics' grey padding
STRIDE = 32  # largest stride of YOLO11 heads; exported metadata.yaml says the same


def letterbox(
    frame_bgr: np.ndarray, new_hw: tuple[int, int], *, auto: bool, stride: int = STRIDE
) -> np.ndarray:
    """Resize keeping the aspect ratio, then pad with grey, centred (Ultralytics `LetterBox`).

    Args:
        frame_bgr: An HxWx3 uint8 BGR image.
        new_hw: The target (height, width), pixels.
        auto: Pad only up to the next multiple of `stride` (dynamic-shape models), not to
            `new_hw`.
        stride: The multiple the padded sides reach with `auto`.

    Returns:
        The letterboxed uint8 BGR image.

    Example:
        >>> letterbox(np.zeros((720, 1280, 3), np.uint8), (640, 640), auto=True).shape
        (384, 640, 3)
    """
    height, width = frame_bgr.shape[:2]
    ratio = min(new_hw[0] / height, new_hw[1] / width)
    new_w, new_h = max(round(width * ratio), 1), max(round(height * ratio), 1)
    pad_w, pad_h = new_hw[1] - new_w, new_hw[0] - new_h
    if auto:
        pad_w, pad_h = pad_w % stride, pad_h % stride
    image = frame_bgr
    if (width, height) != (new_w, new_h):
        image = cv2.resize(frame_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    # The same split of odd padding as Ultralytics: the extra pixel goes right/bottom.
    top, bottom = round(pad_h / 2 - 0.1), round(pad_h / 2 + 0.1)
    left, right = round(pad_w / 2 - 0.1), round(pad_w / 2 + 0.1)
    return cv2.copyMakeBorder(
        image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
    )


def to_blob(image_bgr: np.ndarray) -> np.ndarray:
    """Turn an image into the runtime's input.

    Args:
        image_bgr: An HxWx3 uint8 BGR image (letterboxed).

    Returns:
        A contiguous (1, 3, H, W) float32 RGB array in 0..1.
    """
    rgb_chw = image_bgr[:, :, ::-1].transpose(2, 0, 1)
    return np.ascontiguousarray(rgb_chw, dtype=np.float32)[None] / np.float32(255.0)
