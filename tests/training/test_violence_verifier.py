"""The verifier's training: grouped CV on clips whose video features tell fights apart
scores them well; on features that say nothing it cannot; the fitted parameters load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cashwatch.rules.violence_features import FEATURE_NAMES
from cashwatch.rules.violence_verifier_model import VIDEO_FEATURES, load_verifier_model
from cashwatch.training.violence_verifier import ClipCandidates, cross_validate, main


def clips(informative: bool, n: int = 60, seed: int = 0) -> tuple[list[ClipCandidates], list[str]]:
    rng = np.random.default_rng(seed)
    out, groups = [], []
    for i in range(n):
        fight = i % 2 == 0
        k = 1 + i % 2
        video = rng.normal(0, 1, (k, VIDEO_FEATURES))
        if informative:
            video[:, :16] += 2.0 if fight else -2.0
        pose = rng.normal(0, 1, (k, len(FEATURE_NAMES)))
        out.append(
            ClipCandidates(
                f"fightsurv/c{i}.mp4", fight, np.arange(k, dtype=float), ["pair"] * k, pose, video
            )
        )
        groups.append(f"src{i // 4}")  # four clips per source, both labels in a source
    return out, groups


def test_grouped_cv_finds_what_the_features_hold_and_not_more() -> None:
    good = cross_validate(*clips(informative=True), k=5, repeats=1)
    noise = cross_validate(*clips(informative=False), k=5, repeats=1)
    assert good["mean"]["accuracy"] > 0.9, good["mean"]
    assert noise["mean"]["accuracy"] < 0.7, noise["mean"]
    assert good["groups"] == 15 and good["clips"] == 60


def test_fit_writes_parameters_the_rule_loads(tmp_path: Path) -> None:
    found, groups = clips(informative=True)
    for clip in found:
        clip.save(tmp_path / (clip.label_path.replace("/", "__") + ".npz"))
    table = tmp_path / "groups.csv"
    table.write_text("clip,source_group\n" + "".join(f"c{i},{g}\n" for i, g in enumerate(groups)))
    params = tmp_path / "verifier.json"
    assert main(["fit", str(tmp_path), str(params), "--groups", str(table), "--repeats", "1"]) == 0
    model = load_verifier_model(params)
    assert model.provenance["clips"] == 60
    assert json.loads(params.read_text())["provenance"]["grouped_cv"]["accuracy"] > 0.9
