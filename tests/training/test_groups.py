"""Grouped folds: every clip of a source video lands in one fold, folds stay balanced,
and named clips cut from a development clip join its source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cashwatch.training.groups import group_of, grouped_folds, read_groups


def test_no_group_is_split_and_folds_stay_balanced() -> None:
    rng = np.random.default_rng(3)
    groups = [f"g{int(g)}" for g in rng.integers(0, 40, 200)]
    labels = [bool(v) for v in rng.integers(0, 2, 200)]
    for seed in range(5):
        folds = grouped_folds(groups, labels, 5, seed)
        for name in set(groups):
            assert len({int(folds[i]) for i, g in enumerate(groups) if g == name}) == 1
        sizes = np.bincount(folds, minlength=5)
        assert sizes.min() > 0.6 * sizes.max(), sizes


def test_bad_fold_counts_are_refused_with_the_range() -> None:
    with pytest.raises(ValueError, match=r"between 2 and the number of groups \(2\), got 3"):
        grouped_folds(["a", "b"], [True, False], 3, 0)


def test_named_clips_join_their_development_clips_source(tmp_path: Path) -> None:
    table = tmp_path / "groups.csv"
    table.write_text("clip,source_group\nfi082,src18\nnofi005,src18\n")
    groups = read_groups(table)
    assert group_of("fightsurv/fight/fi082.mp4", groups) == "src18"
    assert group_of("video/a7_shop_counter_calm__fightsurv_nofi005.mp4", groups) == "src18"
    assert group_of("video/w1_people.mp4", groups) == "video/w1_people.mp4"
    (tmp_path / "bad.csv").write_text("name,group\n")
    with pytest.raises(ValueError, match=r"bad\.csv: needs the columns clip,source_group"):
        read_groups(tmp_path / "bad.csv")
