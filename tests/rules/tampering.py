"""Ways to tamper with a camera, applied to real frames: a hand or a cloth over the
lens, a blur, the camera moved or turned, the light turned down (which is not tampering).
Each takes a frame and its index and returns the tampered frame."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

WIDTH = 320  # the tamper rule's analysis width; frames here are shrunk to it


def cover(frame: np.ndarray, index: int) -> np.ndarray:
    """A hand over the lens: dark skin, out of focus, a little light through the fingers."""
    width = frame.shape[1]
    light = np.linspace(18, 40, width, dtype=np.float32)[None, :, None]
    return np.broadcast_to(light * np.array([0.8, 0.9, 1.2], np.float32), frame.shape).astype(
        np.uint8
    )


def cloth(frame: np.ndarray, index: int) -> np.ndarray:
    noise = np.random.default_rng(index).integers(0, 6, frame.shape, np.uint8)
    return cv2.add(np.full_like(frame, (90, 80, 70)), noise)


def blur(frame: np.ndarray, index: int) -> np.ndarray:
    return cv2.GaussianBlur(frame, (0, 0), 2.0 * frame.shape[1] / WIDTH)  # ~8 px on a 1280-px frame


def shifted(frame: np.ndarray, index: int) -> np.ndarray:
    height, width = frame.shape[:2]
    move = np.float32([[1, 0, 0.3 * width], [0, 1, 0.1 * height]])
    return cv2.warpAffine(frame, move, (width, height), borderMode=cv2.BORDER_REFLECT)


def rotated(frame: np.ndarray, index: int) -> np.ndarray:
    height, width = frame.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 20, 1.2)
    return cv2.warpAffine(frame, turn, (width, height), borderMode=cv2.BORDER_REFLECT)


def dimmed(share: float) -> Callable[[np.ndarray, int], np.ndarray]:
    def change(frame: np.ndarray, index: int) -> np.ndarray:
        return (frame * share).astype(np.uint8)  # lights turned down: not tampering

    return change
