"""Detection fixtures: one export per test run, reused by every backend test."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from cashwatch.config.detection import ModelConfig
from cashwatch.detect.backends import load_pose_model, prepare_model
from cashwatch.detect.model import PoseModel
from tests.conftest import REPO, require_media

# Inside .pytest_cache (git-ignored) so reruns skip the ~10 s exports; CI starts clean.
MODEL_DATA_DIR = REPO / ".pytest_cache" / "cashwatch-models"


@pytest.fixture(scope="session")
def model_data_dir() -> Path:
    """A data_dir whose models/ holds the ONNX and OpenVINO exports of yolo11n-pose."""
    for backend in ("onnxruntime", "openvino"):
        prepare_model(ModelConfig(backend=backend), MODEL_DATA_DIR)
    return MODEL_DATA_DIR


@pytest.fixture(scope="session")
def pose_models(model_data_dir: Path) -> dict[str, PoseModel]:
    """One loaded model per backend, f32, 640 px, one thread."""
    return {
        backend: load_pose_model(ModelConfig(backend=backend, precision="f32"), model_data_dir)
        for backend in ("torch", "onnxruntime", "openvino")
    }


def read_image(relative: str) -> np.ndarray:
    """A BGR frame from ../shared/media (skips without it)."""
    path = require_media(relative)
    image = cv2.imread(str(path))
    assert image is not None, f"OpenCV cannot read {path}"
    return image
