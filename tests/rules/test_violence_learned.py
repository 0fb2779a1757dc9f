"""The learned violence rule on constructed pose sequences, and the parameters it ships with."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from cashwatch.config.detection import ViolenceRuleConfig
from cashwatch.core.sustained import HitCount, SustainedEvidence
from cashwatch.rules.violence import ViolenceRule
from cashwatch.rules.violence_features import FEATURE_NAMES, SceneWindow
from cashwatch.rules.violence_learned import LearnedViolenceRule
from cashwatch.rules.violence_model import (
    ViolenceModel,
    ViolenceModelError,
    load_violence_model,
)
from tests.rules.builders import poses_of, stick_figure, timestamps
from tests.rules.test_violence import SIZE, flailing

LEARNED = ViolenceRuleConfig(method="learned")


def arm_model(threshold_body_sizes_s: float = 1.0) -> ViolenceModel:
    """A hand-made model: the score crosses 0.5 where the slower arm of the pair moves at
    `threshold_body_sizes_s` (features are log1p of body sizes/s), and nothing else counts."""
    n = len(FEATURE_NAMES)
    weights = np.zeros(n)
    weights[FEATURE_NAMES.index("pair_arm_slow")] = 20.0
    mean = np.zeros(n)
    mean[FEATURE_NAMES.index("pair_arm_slow")] = np.log1p(threshold_body_sizes_s)
    return ViolenceModel(1.2, mean, np.ones(n), weights, 0.0, 0.5)


def run(
    seconds: float,
    gap_px: float,
    amplitude_a: float,
    amplitude_b: float,
    config: ViolenceRuleConfig = LEARNED,
    time_scale: float = 1.0,
) -> list:
    rule = ViolenceRule(config.model_copy(update={"min_score": 0.5}), arm_model())
    events = []
    for ts in timestamps(seconds):
        a = flailing(200.0, ts, amplitude_a)
        b = flailing(200.0 + 1.4 * SIZE + gap_px, ts, amplitude_b, phase=1.0)
        events += rule.update(poses_of([(1, a), (2, b)]), ts * time_scale)
    return events


def test_shipped_parameters_load_and_match_the_config_default() -> None:
    model = load_violence_model()
    assert model.weights.shape == (len(FEATURE_NAMES),)
    assert np.abs(model.weights).sum() > 0, "an untrained model shipped"
    assert model.min_score == ViolenceRuleConfig().min_score
    assert model.provenance["cv_accuracy"]["repeats"] >= 5
    # the camera rule picks them up by itself
    rule = ViolenceRule(LEARNED)
    assert isinstance(rule.rule, LearnedViolenceRule)
    assert rule.rule.model.window_s == model.window_s


def test_a_model_for_other_features_is_refused_with_the_file_named(tmp_path: Path) -> None:
    raw = ViolenceModel.neutral().to_json()
    raw["features"] = raw["features"][:-1]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ViolenceModelError, match=r"old\.json.*missing \['keypoint_conf'\]"):
        load_violence_model(path)


def test_a_model_file_with_bad_numbers_is_refused(tmp_path: Path) -> None:
    raw = ViolenceModel.neutral().to_json()
    raw["scale"][0] = 0.0
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ViolenceModelError, match=r"scale must be > 0 .*not for \['"):
        load_violence_model(path)
    raw = ViolenceModel.neutral().to_json()
    raw["bias"] = "x"
    path.write_text(json.dumps(raw))
    with pytest.raises(ViolenceModelError, match=r"bad\.json: .*bias .* must be numbers"):
        load_violence_model(path)
    path.write_text("[1, 2]")
    with pytest.raises(ViolenceModelError, match="must hold a JSON object with the keys features"):
        load_violence_model(path)


def test_two_people_close_both_flailing_raise_one_learned_event() -> None:
    events = run(seconds=3.0, gap_px=0.0, amplitude_a=0.8, amplitude_b=0.8)
    assert len(events) == 1
    event = events[0]
    assert event.details["method"] == "learned"
    assert sorted(event.details["tracks"]) == [1, 2]
    assert event.details["hits"] >= LEARNED.min_hits
    assert 0.5 <= event.confidence <= 1.0


def test_a_pair_out_of_reach_is_gated_out_whatever_the_score() -> None:
    assert run(seconds=3.0, gap_px=3 * SIZE, amplitude_a=0.8, amplitude_b=0.8) == []


def test_only_one_person_moving_scores_low() -> None:
    assert run(seconds=3.0, gap_px=0.0, amplitude_a=0.8, amplitude_b=0.0) == []


def test_the_score_uses_timestamps_not_frame_counts() -> None:
    assert run(seconds=3.0, gap_px=0.0, amplitude_a=0.3, amplitude_b=0.3)
    assert run(seconds=3.0, gap_px=0.0, amplitude_a=0.3, amplitude_b=0.3, time_scale=4.0) == []


def test_fewer_hits_than_min_hits_raise_nothing() -> None:
    # 3 detections at 7.5/s: the first has no speed yet, so at most 2 hits < 4
    assert run(seconds=0.4, gap_px=0.0, amplitude_a=0.8, amplitude_b=0.8) == []


def test_persistence_fires_once_per_run_and_rearms_after_a_quiet_window() -> None:
    window = SustainedEvidence[None](HitCount(min_hits=2, window=3))

    def fires(hit: bool) -> bool:
        due = window.add(0.0, None, hit)
        if due:
            window.fired()
        return due

    fired = [fires(hit) for hit in [True] * 6 + [False] * 2 + [True] * 2]
    assert fired.count(True) == 1  # two quiet detections are not a whole window
    fired = [fires(hit) for hit in [False] * 3 + [True] * 2]
    assert fired == [False, False, False, False, True]


def test_features_see_the_closest_pair_and_a_lone_person() -> None:
    scene = SceneWindow(1.2, 0.3)
    lone = scene.update(poses_of([(1, stick_figure(100.0, 250.0))]), 0.0)
    assert lone[FEATURE_NAMES.index("pair_gap")] == 3.0 and not scene.people_within(0.75)
    for ts in timestamps(1.0):
        features = scene.update(
            poses_of(
                [
                    (1, flailing(200.0, ts, 0.8)),
                    (2, flailing(200.0 + 1.4 * SIZE, ts, 0.8, 1.0)),
                    (3, stick_figure(600.0, 250.0)),
                ]
            ),
            ts,
        )
    assert scene.closest_pair == (1, 2) and scene.people_within(0.75)
    assert features[FEATURE_NAMES.index("people")] == 3
    assert features[FEATURE_NAMES.index("pair_arm_slow")] > np.log1p(1.0)


def test_a_detection_costs_well_under_two_milliseconds() -> None:
    # six people in view is a busy counter; the worker runs this 7.5 times a second.
    # Measured ~0.6 ms (docs/evaluation.md); the bound is 5x the 2 ms budget so that a
    # shared CI machine does not fail it, while a per-detection blow-up still does.
    frames = [
        poses_of([(k, flailing(80.0 + 90.0 * k, ts, 0.5, phase=k)) for k in range(6)])
        for ts in timestamps(4.0)
    ]
    best = float("inf")
    for _ in range(3):
        rule = ViolenceRule(LEARNED)
        started = time.perf_counter()
        for index, poses in enumerate(frames):
            rule.update(poses, index / 7.5)
        best = min(best, (time.perf_counter() - started) / len(frames))
    assert best < 0.010, f"{best * 1000:.2f} ms per detection"
