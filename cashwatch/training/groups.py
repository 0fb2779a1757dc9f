"""Grouped folds: no source video in both the training and the scored part.

Clips cut from one source video share its scene, camera and people. Folds that split
such a source between training and scoring measure how well a model remembers scenes,
not how well it finds fights, so every cross-validated figure of the violence methods
uses these folds.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# A named clip cut from a development clip says so in its file name
# (`video/v1_fight_at_shop_counter__fightsurv_fi082.mp4`): it belongs to fi082's source.
_FIGHTSURV_STEM = re.compile(r"__fightsurv_([A-Za-z0-9]+)\.\w+$")


def read_groups(groups_csv: Path) -> dict[str, str]:
    """The source group of each development clip, by clip stem (`fi002` -> `src00`).

    Args:
        groups_csv: A `clip,source_group` file (`fightsurv/groups.csv` of the media).

    Returns:
        The group of each clip named in the file.

    Raises:
        ValueError: When the file lacks the two columns; the message names the file.
    """
    with groups_csv.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"clip", "source_group"} <= set(reader.fieldnames):
            raise ValueError(
                f"{groups_csv}: needs the columns clip,source_group, got {reader.fieldnames}"
            )
        return {row["clip"]: row["source_group"] for row in reader}


def group_of(label_path: str, groups: dict[str, str]) -> str:
    """The source group of a clip of a labels file.

    Args:
        label_path: The clip's path as the labels file writes it (`fightsurv/fight/fi002.mp4`,
            `video/a7_shop_counter_calm__fightsurv_nofi005.mp4`).
        groups: What `read_groups` returned.

    Returns:
        The clip's group: its development clip's, or, for a clip of no known source, the
        clip itself (its own group).

    >>> group_of("video/v1_x__fightsurv_fi082.mp4", {"fi082": "src18"})
    'src18'
    >>> group_of("video/w1_walk.mp4", {})
    'video/w1_walk.mp4'
    """
    named = _FIGHTSURV_STEM.search(label_path)
    stem = named.group(1) if named else Path(label_path).stem
    return groups.get(stem, label_path)


def grouped_folds(groups: Sequence[str], labels: Sequence[bool], k: int, seed: int) -> np.ndarray:
    """A fold number per clip such that all clips of a group share one fold.

    Groups are dealt largest first, each to the fold that then holds the fewest clips of
    that group's majority label, so folds stay close in size and in their share of fights
    (ties broken by the seeded shuffle).

    Args:
        groups: The source group of each clip.
        labels: Whether each clip is a fight.
        k: The number of folds (at least 2, at most the number of groups).
        seed: Seeds the order in which groups of equal size are dealt.

    Returns:
        The (len(groups),) fold numbers, 0..k-1.

    Raises:
        ValueError: When k is out of range or the two sequences differ in length.

    >>> folds = grouped_folds(["a", "a", "b", "c"], [True, True, False, False], 2, 0)
    >>> bool(folds[0] == folds[1]), sorted(set(folds.tolist()))
    (True, [0, 1])
    """
    names = sorted(set(groups))
    if len(groups) != len(labels):
        raise ValueError(f"got {len(groups)} groups for {len(labels)} labels")
    if not 2 <= k <= len(names):
        raise ValueError(f"k must be between 2 and the number of groups ({len(names)}), got {k}")
    rng = np.random.default_rng(seed)
    members = {name: [i for i, g in enumerate(groups) if g == name] for name in names}
    order = sorted(rng.permutation(names).tolist(), key=lambda n: -len(members[n]))
    counts = np.zeros((k, 2), np.int64)  # per fold: non-fights, fights
    folds = np.zeros(len(groups), np.int64)
    for name in order:
        fights = sum(bool(labels[i]) for i in members[name])
        majority = int(fights * 2 >= len(members[name]))
        fold = int(np.lexsort((counts.sum(axis=1), counts[:, majority]))[0])
        folds[members[name]] = fold
        counts[fold] += (len(members[name]) - fights, fights)
    return folds
