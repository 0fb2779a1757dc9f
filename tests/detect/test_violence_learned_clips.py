"""The learned violence method on real clips it was never trained on, through the pipeline.

v1 and a7 are the same shop counter during a fight and calm; both are held out of the
training set (`violence_train --holdout video/`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cashwatch.config import CameraSettings, ModelConfig
from cashwatch.detect.backends import load_pose_model
from cashwatch.detect.model import PoseModel
from cashwatch.detect.pipeline import DetectionProcessor
from tests.conftest import require_media
from tests.detect.test_pipeline import run_clip

pytestmark = pytest.mark.media

LEARNED = CameraSettings.model_validate({"detection": {"violence": {"method": "learned"}}})


@pytest.fixture(scope="module")
def pose_model(model_data_dir: Path) -> PoseModel:
    return load_pose_model(ModelConfig(backend="openvino", precision="f32"), model_data_dir)


def test_learned_method_finds_the_fight_at_the_counter(pose_model: PoseModel) -> None:
    clip = require_media("video/v1_fight_at_shop_counter__fightsurv_fi082.mp4")
    events = run_clip(clip, DetectionProcessor(LEARNED, pose_model))
    violence = [e for e in events if e.event_type == "violence"]
    assert len(violence) == 1
    assert violence[0].details["method"] == "learned"
    assert len(violence[0].details["tracks"]) == 2
    assert violence[0].snapshot_jpeg is not None


def test_learned_method_keeps_the_calm_counter_silent(pose_model: PoseModel) -> None:
    clip = require_media("video/a7_shop_counter_calm__fightsurv_nofi005.mp4")
    processor = DetectionProcessor(LEARNED, pose_model)
    assert run_clip(clip, processor) == []
    assert processor.counters.inferred > 0
