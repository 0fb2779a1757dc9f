"""The violence verifier in-process (`LocalVideoVerifier`) and `cashwatch eval` scoring the
verified method with it, on the real I3D model and real footage."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from cashwatch.cli import main
from cashwatch.detect.video_features import VideoFeatureModel, prepare_window
from cashwatch.detect.video_verifier import LocalVideoVerifier
from cashwatch.rules.violence_features import FEATURE_NAMES
from cashwatch.rules.violence_trigger import Candidate
from cashwatch.rules.violence_verified import VerifyRequest
from tests.conftest import require_media

FIGHT = "video/v1_fight_at_shop_counter__fightsurv_fi082.mp4"
CALM = "video/a7_shop_counter_calm__fightsurv_nofi005.mp4"


def _frames(
    relative: str, count: int = 16, size_wh: tuple[int, int] = (852, 480)
) -> list[np.ndarray]:
    """Every 3rd frame, enlarged: the ring shrinks frames to 480 px, here by half."""
    capture = cv2.VideoCapture(str(require_media(relative)))
    frames: list[np.ndarray] = []
    while len(frames) < count * 3:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, size_wh))
    capture.release()
    return frames[::3][:count]


@pytest.mark.media
def test_the_local_verifier_crops_the_candidates_box_in_ring_pixels(
    video_model_file: Path,
) -> None:
    model = VideoFeatureModel(video_model_file)
    frames = _frames(FIGHT)
    ring = [cv2.resize(f, (426, 240), interpolation=cv2.INTER_AREA) for f in frames]
    box = (240.0, 40.0, 660.0, 480.0)  # in pixels of the 852x480 frame
    candidate = Candidate(1.0, "pair", box, np.zeros(len(FEATURE_NAMES)))
    verifier = LocalVideoVerifier(model)
    assert verifier.submit(VerifyRequest(candidate, ring, 0.5))
    [verdict] = verifier.poll()
    assert verifier.poll() == []
    expected, _ = model.features(prepare_window(ring, (120.0, 20.0, 330.0, 240.0)))
    assert verdict.error == "" and verdict.video is not None
    np.testing.assert_allclose(verdict.video, expected, rtol=1e-6)
    # a candidate without a box (nobody found) is looked at whole
    nobody = Candidate(1.0, "merged", (0.0, 0.0, 0.0, 0.0), np.zeros(len(FEATURE_NAMES)))
    verifier.submit(VerifyRequest(nobody, ring, 0.5))
    whole, _ = model.features(prepare_window(ring, None))
    np.testing.assert_allclose(verifier.poll()[0].video, whole, rtol=1e-6)  # type: ignore[arg-type]
    # frames of two sizes make no window: an error verdict, not an exception in the rule
    verifier.submit(VerifyRequest(candidate, [ring[0], frames[0]], 0.5))
    assert "cannot make the video window" in verifier.poll()[0].error


@pytest.mark.media
def test_eval_scores_the_verified_method_with_the_video_model(
    tmp_path: Path, model_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fight, calm = require_media(FIGHT), require_media(CALM)
    (tmp_path / "verified.toml").write_text(
        '[detection]\ncash = { enabled = false }\nviolence = { method = "verified" }\n'
    )
    labels = tmp_path / "labels.csv"
    labels.write_text(
        f"path,events,camera\n{fight},violence,verified.toml\n{calm},,verified.toml\n"
    )
    config = tmp_path / "cashwatch.toml"
    config.write_text(f'data_dir = "{model_data_dir}"\n[model]\nbackend = "openvino"\n')
    assert main(["eval", str(labels), "--json", "--config", str(config)]) == 0
    captured = capsys.readouterr()
    assert "the pose rule decides" not in captured.err, "the verifier itself must be scored"
    violence = json.loads(captured.out)["types"]["violence"]
    assert (violence["tp"], violence["tn"]) == (1, 1), violence
