"""Feeding demo scenes to detection the way a live worker does: paced fps, a stride."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from cashwatch.config.camera import CameraConfig
from cashwatch.config.defaults import DEMO_CONFIG
from cashwatch.config.loader import parse_config
from cashwatch.core.sampling import detection_stride
from cashwatch.demo.source import open_demo
from tests.conftest import REPO

DEMO_FPS = 15.0
DETECT_FPS = 7.5
# Shared with tests/detect: exports of yolo11n-pose survive between runs (git-ignored).
MODEL_DATA_DIR = REPO / ".pytest_cache" / "cashwatch-models"


def sampled_frames(
    scene: str, *, loops: float = 1.0, fps: float = DEMO_FPS, detect_fps: float = DETECT_FPS
) -> Iterator[tuple[np.ndarray, float]]:
    """(frame, ts) of the frames a worker would analyse over `loops` of the scene."""
    capture = open_demo(scene, fps=fps)
    stride = detection_stride(fps, detect_fps)
    total = round(capture.scene.loop_s * fps * loops)
    for index in range(total):
        ok, frame = capture.read()
        assert ok and frame is not None, f"demo:{scene} stopped at frame {index}"
        if index % stride == 0:
            yield frame, index / fps


def demo_camera(scene: str) -> CameraConfig:
    """The camera of the shipped demo config that plays `scene` (walk gets a plain one)."""
    loaded = parse_config(DEMO_CONFIG, REPO / "cashwatch.toml")
    for camera in loaded.app.cameras:
        if camera.source == f"demo:{scene}":
            return camera
    return CameraConfig(id=f"demo-{scene}", source=f"demo:{scene}")
