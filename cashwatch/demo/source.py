"""`demo:<scene>` camera sources: synthetic live video that needs nothing but pip.

A `DemoCapture` answers the part of `cv2.VideoCapture` the worker uses. It renders
frames as fast as `read()` is called, each one the scene at `frame_index / fps` seconds
(looping), so the worker's pacing at `get(CAP_PROP_FPS)` makes it play in real time and
a test that reads without pacing sees exactly the same frames, only sooner.
"""

from __future__ import annotations

import cv2
import numpy as np

from cashwatch.demo.canvas import draw_caption
from cashwatch.demo.scenes import SCENES, Scene

CAPTION = "SYNTHETIC DEMO"
MIN_SIZE_WH = (160, 90)


class DemoCapture:
    """A looping synthetic camera; see `open_demo`."""

    def __init__(self, scene: Scene, fps: float) -> None:
        self.scene = scene
        self.fps = fps
        self.frame_index = 0
        self._open = True

    def isOpened(self) -> bool:  # OpenCV's name, so the worker needs no adapter
        return self._open

    def read(self) -> tuple[bool, np.ndarray | None]:
        """The next frame (BGR uint8), or (False, None) once released."""
        if not self._open:
            return False, None
        t = (self.frame_index / self.fps) % self.scene.loop_s
        self.frame_index += 1
        frame = self.scene.render(t)
        draw_caption(frame, CAPTION)
        return True, frame

    def get(self, prop: int) -> float:
        """CAP_PROP_FPS, _FRAME_WIDTH, _FRAME_HEIGHT, _POS_FRAMES; 0.0 for others, like OpenCV."""
        width, height = self.scene.size_wh
        values = {
            cv2.CAP_PROP_FPS: self.fps,
            cv2.CAP_PROP_FRAME_WIDTH: float(width),
            cv2.CAP_PROP_FRAME_HEIGHT: float(height),
            cv2.CAP_PROP_POS_FRAMES: float(self.frame_index),
        }
        return float(values.get(prop, 0.0))

    def release(self) -> None:
        self._open = False


def open_demo(
    scene: str, *, fps: float = 15.0, size_wh: tuple[int, int] = (1280, 720)
) -> DemoCapture:
    """A synthetic camera playing `scene` ('handover', 'scuffle', 'fire', 'walk' or 'tamper').

    Example:
        >>> capture = open_demo("walk", size_wh=(320, 180))
        >>> ok, frame = capture.read()
        >>> ok, frame.shape, capture.get(cv2.CAP_PROP_FPS)
        (True, (180, 320, 3), 15.0)
    """
    if scene not in SCENES:
        raise ValueError(f"unknown demo scene {scene!r}; valid: {', '.join(SCENES)}")
    if not 1.0 <= fps <= 60.0:
        raise ValueError(f"demo fps must be within 1..60, got {fps}")
    width, height = size_wh
    if width < MIN_SIZE_WH[0] or height < MIN_SIZE_WH[1]:
        raise ValueError(f"demo size_wh must be at least {MIN_SIZE_WH}, got {size_wh}")
    return DemoCapture(SCENES[scene]((int(width), int(height))), float(fps))
