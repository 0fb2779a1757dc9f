"""Which service hosts the violence verifier's video model and the cameras' fire models,
and what the others answer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cashwatch.config import CameraConfig, ModelConfig
from cashwatch.manager.inference import NO_VERIFIED_CAMERA, InferencePool
from tests.conftest import share_video_model
from tests.harness import wait_for


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
    assert pool._models_spec(0) == {"no_video": NO_VERIFIED_CAMERA, "fire_models": ()}
    assert pool._models_spec(1) == {
        "no_video": "inference-1 hosts no video model; send video requests to inference-0"
    }


def test_a_verified_camera_makes_the_first_service_host_the_exported_model(
    pool: InferencePool, tmp_path: Path, video_model_file: Path
) -> None:
    share_video_model(tmp_path, video_model_file)
    pool.prepare_video([camera("a", "pose"), camera("b", "verified")])
    assert pool.video_model is not None and pool.video_model.resolve() == video_model_file
    assert pool._models_spec(0) == {"video_model": str(pool.video_model), "fire_models": ()}
    assert "inference-0" in pool._models_spec(1)["no_video"]


def test_a_video_model_exported_after_the_first_service_started_reaches_it_by_one_reload(
    tmp_path: Path, openvino_model_dir: Path, video_model_file: Path
) -> None:
    """Pose detection does not wait for the video model's export on a first run: the
    services start without it, and the first is restarted once to load it (a planned
    restart, not a failure). The export is stood in for by sharing the made one."""
    model = ModelConfig(backend="openvino", weights=str(openvino_model_dir))
    pool = InferencePool(tmp_path, model, [0], manager_pid=os.getpid())
    cameras = [camera("a", "verified")]
    try:
        assert not pool.prepare_video(cameras, export=False)  # nothing made here yet
        assert pool._models_spec(0) == {
            "no_video": "no video model yet: it is being exported",
            "fire_models": (),
        }

        def running(*, video: bool) -> int | None:
            """Service 0's pid once it runs, with or without the video model."""
            pool.step(wanted=1, heartbeat_timeout_s=30)
            status = pool.table.read(0)
            up = status.live and status.report.state == "running"
            hosts_video = "video=i3d" in status.report.models
            return status.supervision.pid if up and hosts_video == video else None

        first = wait_for(lambda: running(video=False), 120, "service 0 up, without video")
        share_video_model(tmp_path, video_model_file)  # the export is done
        assert pool.prepare_video(cameras)
        second = wait_for(lambda: running(video=True), 120, "service 0 reloaded with video")
        assert second != first
        assert pool.runs[0].restarts == 0 and not pool.table.read(0).supervision.error
    finally:
        pool.close()


def test_the_first_service_hosts_each_fire_model_the_cameras_name_once(
    pool: InferencePool, tmp_path: Path
) -> None:
    def fire(camera_id: str, model: str, *, rule: bool = True, on: bool = True) -> CameraConfig:
        return CameraConfig.model_validate(
            {
                "id": camera_id,
                "source": "demo:fire",
                "enabled": on,
                "detection": {"fire": {"enabled": rule, "model": model}},
            }
        )

    pool.want_fire_models(
        [
            fire("a", "models/fire.pt"),
            fire("b", str(tmp_path / "models" / "fire.pt")),  # the same file, named in full
            fire("c", "/opt/smoke.pt", on=False),  # switched off: switching on needs no reload
            fire("d", "/opt/unused.pt", rule=False),  # its fire rule is off: never asked
        ]
    )
    assert pool.fire_models == ("/opt/smoke.pt", str(tmp_path / "models" / "fire.pt"))
    assert pool._models_spec(0)["fire_models"] == pool.fire_models
    assert "fire_models" not in pool._models_spec(1)
