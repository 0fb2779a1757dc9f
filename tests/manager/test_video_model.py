"""Which service hosts the violence verifier's video model, and what the others answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from cashwatch.config import CameraConfig, ModelConfig
from cashwatch.manager.inference import NO_VERIFIED_CAMERA, InferencePool
from tests.conftest import share_video_model


def camera(camera_id: str, method: str, enabled: bool = True) -> CameraConfig:
    violence = {"enabled": enabled, "method": method}
    return CameraConfig.model_validate(
        {"id": camera_id, "source": "demo:walk", "detection": {"violence": violence}}
    )


@pytest.fixture
def pool(tmp_path: Path):
    made = InferencePool(tmp_path, ModelConfig(), [0, 1], manager_pid=1)
    yield made
    made.close()


def test_without_a_verified_camera_no_service_hosts_the_video_model(pool: InferencePool) -> None:
    pool.prepare_video([camera("a", "pose"), camera("b", "verified", enabled=False)])
    assert pool.video_model is None
    assert pool._video_spec(0) == {"no_video": NO_VERIFIED_CAMERA}
    assert pool._video_spec(1) == {
        "no_video": "inference-1 hosts no video model; send video requests to inference-0"
    }


def test_a_verified_camera_makes_the_first_service_host_the_exported_model(
    pool: InferencePool, tmp_path: Path, video_model_file: Path
) -> None:
    share_video_model(tmp_path, video_model_file)
    pool.prepare_video([camera("a", "pose"), camera("b", "verified")])
    assert pool.video_model is not None and pool.video_model.resolve() == video_model_file
    assert pool._video_spec(0) == {"video_model": str(pool.video_model)}
    assert "inference-0" in pool._video_spec(1)["no_video"]
