"""Fixtures of the inference service's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from cashwatch.config.detection import ModelConfig
from cashwatch.detect.backends import load_pose_model
from cashwatch.detect.model import BatchPoseModel


@pytest.fixture(scope="module")
def pose(openvino_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> BatchPoseModel:
    """The pose model a service serves (the run's OpenVINO export, f32)."""
    config = ModelConfig(weights=str(openvino_model_dir), backend="openvino", precision="f32")
    return load_pose_model(config, tmp_path_factory.mktemp("model"))
