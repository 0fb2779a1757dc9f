"""The violence training code reproduces a model from a tiny constructed data set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cashwatch.config.detection import ViolenceRuleConfig
from cashwatch.core.poses import Poses
from cashwatch.rules.violence_model import ViolenceModel, load_violence_model
from cashwatch.training.violence_train import (
    Recording,
    clip_fires,
    clip_windows,
    cross_validate,
    fit_logistic,
    main,
    model_scores,
    stratified_folds,
    train,
)
from tests.rules.builders import poses_of, timestamps
from tests.rules.test_violence import SIZE, flailing

CONFIG = ViolenceRuleConfig(method="learned")


def constructed(
    name: str, fight: bool, amplitude: float, phase: float, gap_px: float = 0.0
) -> Recording:
    """Two people side by side for 2 s: a fight flails, a calm pair barely moves."""
    ts = timestamps(2.0)
    poses = [
        poses_of(
            [
                (1, flailing(200.0, t, amplitude, phase)),
                (2, flailing(200.0 + 1.4 * SIZE + gap_px, t, amplitude, phase + 1.0)),
            ]
        )
        for t in ts
    ]
    return Recording(name, fight, np.array(ts), poses)


def dataset() -> list[Recording]:
    fights = [constructed(f"fight{i}", True, 0.6 + 0.1 * i, 0.5 * i) for i in range(6)]
    calm = [constructed(f"calm{i}", False, 0.02 * i, 0.5 * i) for i in range(6)]
    return fights + calm


def test_training_separates_constructed_fights_from_calm_pairs() -> None:
    clips = [clip_windows(r, 1.2, CONFIG) for r in dataset()]
    model = train(clips, CONFIG, window_s=1.2)
    for clip in clips:
        assert (
            clip_fires(model_scores(model, clip), clip.within_reach, model.min_score, CONFIG)
            == clip.fight
        ), clip.label_path
    # clips it never saw: a slower fight and a pair that is almost still
    unseen = [constructed("fight-new", True, 0.7, 2.2), constructed("calm-new", False, 0.03, 2.2)]
    for recording in unseen:
        clip = clip_windows(recording, 1.2, CONFIG)
        assert (
            clip_fires(model_scores(model, clip), clip.within_reach, model.min_score, CONFIG)
            == recording.fight
        )


def test_training_is_deterministic_and_round_trips_through_json(tmp_path: Path) -> None:
    clips = [clip_windows(r, 1.2, CONFIG) for r in dataset()]
    first, second = train(clips, CONFIG, 1.2), train(clips, CONFIG, 1.2)
    assert np.array_equal(first.weights, second.weights) and first.bias == second.bias
    path = tmp_path / "model.json"
    path.write_text(json.dumps(first.to_json()))
    loaded = load_violence_model(path)
    assert np.allclose(loaded.weights, first.weights, atol=1e-6)
    assert loaded.min_score == first.min_score


def test_cross_validation_on_separable_clips_is_perfect() -> None:
    clips = [clip_windows(r, 1.2, CONFIG) for r in dataset()]
    result = cross_validate(clips, CONFIG, 1.2, k=3, repeats=2)
    assert result.accuracies == [1.0, 1.0]
    assert len(result.min_scores) == 6


def test_folds_are_stratified_and_seeded() -> None:
    fights = [True] * 10 + [False] * 5
    folds = stratified_folds(fights, 5, seed=1)
    for fold in range(5):
        members = [f for f, k in zip(fights, folds, strict=True) if k == fold]
        assert members.count(True) == 2 and members.count(False) == 1
    assert np.array_equal(folds, stratified_folds(fights, 5, seed=1))
    assert not np.array_equal(folds, stratified_folds(fights, 5, seed=2))


def test_logistic_fit_refuses_mismatched_labels() -> None:
    with pytest.raises(ValueError, match="3 rows and 2 labels"):
        fit_logistic(np.zeros((3, 2)), np.zeros(2))


def test_recordings_round_trip_including_empty_detections(tmp_path: Path) -> None:
    recording = constructed("clip", True, 0.8, 0.0)
    recording.poses[3] = Poses.empty()
    recording.save(tmp_path / "clip.npz")
    loaded = Recording.load(tmp_path / "clip.npz")
    assert loaded.label_path == "clip" and loaded.fight
    assert [len(p) for p in loaded.poses] == [len(p) for p in recording.poses]
    assert np.array_equal(loaded.poses[0].keypoints, recording.poses[0].keypoints)
    assert loaded.poses[0].track_id.tolist() == [1, 2]


def test_fit_command_writes_a_loadable_model_and_reports_held_out_clips(
    tmp_path: Path, capsys
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    for recording in [*dataset(), constructed("video/quiet", False, 0.0, 0.0)]:
        recording.save(cache / (recording.label_path.replace("/", "__") + ".npz"))
    out = tmp_path / "model.json"
    assert main(["fit", str(cache), str(out), "--repeats", "1", "--folds", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["clips"] == 12 and report["fights"] == 6
    assert [row["clip"] for row in report["holdout"]] == ["video/quiet"]
    assert report["holdout"][0]["fires"] is False
    model = load_violence_model(out)
    assert isinstance(model, ViolenceModel)
    assert model.provenance["held_out"] == ["video/"]
