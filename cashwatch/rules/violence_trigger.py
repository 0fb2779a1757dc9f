"""Stage 1 of the verified violence method: when a moment is worth the verifier's look.

Its job is recall, not precision: the verifier (stage 2) decides. It reads the same
scene summary as the learned score (`violence_features.SceneWindow`) and names a
*candidate* when people are close and moving:

- *pair*: the closest two people are within `trigger_gap` body sizes and the faster of
  them moves his arms or torso at least `trigger_motion` (log1p body sizes/s);
- *merged*: two or more people were in view within the window and now fewer are, while
  a box jumps in size: two bodies entangled come back from the pose model as one box.

The candidate carries the region to look at (the people involved, in pixels) and the
pose features of the moment, which the verifier scores together with the video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cashwatch.core.poses import Poses
from cashwatch.core.tracks import person_keys
from cashwatch.rules.violence_features import FEATURE_NAMES, SceneWindow

_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class TriggerSettings:
    """What counts as worth a look (see the module docstring).

    Attributes:
        window_s: Seconds of history the pose features summarise.
        gap: The largest gap between the closest pair's boxes, body sizes.
        motion: The least arm or in-place torso motion of the faster of them (log1p
            body sizes/s).
        jump: The least box-size jump (log1p of |log area change| per second) that makes
            a drop in the number of people a merge.
        min_keypoint_conf: Keypoints below this confidence are treated as unseen.
    """

    window_s: float = 1.6
    gap: float = 1.5
    motion: float = 0.5
    jump: float = 0.5
    min_keypoint_conf: float = 0.3


@dataclass(frozen=True)
class Candidate:
    """A moment worth the verifier's look.

    Attributes:
        ts: The detection's time, Unix seconds.
        reason: Why, in words (stored with the event): `pair` or `merged`.
        box: The region to look at, x1, y1, x2, y2 pixels: the people involved.
        pose_features: The scene's (len(FEATURE_NAMES),) pose features at `ts`.
    """

    ts: float
    reason: str
    box: Box
    pose_features: np.ndarray


class ViolenceTrigger:
    """Fed one camera's fresh detections; names the candidates among them.

    Args:
        settings: The trigger's thresholds.
    """

    def __init__(self, settings: TriggerSettings) -> None:
        self.settings = settings
        self.scene = SceneWindow(settings.window_s, settings.min_keypoint_conf)

    def update(self, poses: Poses, ts: float) -> Candidate | None:
        """Add one detection; a candidate when it is worth a look.

        Args:
            poses: The people the model just found, tracked, in pixels.
            ts: The detection's time, Unix seconds.

        Returns:
            The candidate, or None.
        """
        features = self.scene.update(poses, ts)
        reason = trigger_reason(
            features, self.scene.people_within(self.settings.gap), self.settings
        )
        if reason is None:
            return None
        involved = list(range(len(poses)))
        if reason == "pair" and self.scene.closest_pair is not None:
            keys = person_keys(poses)
            involved = [keys.index(key) for key in self.scene.closest_pair]
        return Candidate(ts, reason, people_box(poses, involved), features)


def trigger_reason(features: np.ndarray, within_gap: bool, settings: TriggerSettings) -> str | None:
    """Whether a scene summary is worth a look, and why.

    Args:
        features: The (len(FEATURE_NAMES),) vector of `SceneWindow.update`.
        within_gap: Whether the closest pair is within `settings.gap` body sizes.
        settings: The thresholds.

    Returns:
        `pair`, `merged`, or None.

    >>> f = np.zeros(len(FEATURE_NAMES)); f[_INDEX["pair_arm_fast"]] = 1.0
    >>> trigger_reason(f, True, TriggerSettings()), trigger_reason(f, False, TriggerSettings())
    ('pair', None)
    """
    value = {name: float(features[i]) for name, i in _INDEX.items()}
    moving = max(value["pair_arm_fast"], value["pair_torso_fast"]) >= settings.motion
    if within_gap and moving:
        return "pair"
    fewer = value["people_max"] >= 2 and value["people"] < value["people_max"]
    if fewer and value["people"] >= 1 and value["box_jump"] >= settings.jump:
        return "merged"
    return None


def people_box(poses: Poses, rows: list[int]) -> Box:
    """The box around some of the people found (the candidate's region).

    Args:
        poses: The people of the detection, pixels.
        rows: Which of them, by position in `poses`.

    Returns:
        x1, y1, x2, y2 of their union; all zeros for nobody.
    """
    if not rows:
        return (0.0, 0.0, 0.0, 0.0)
    xyxy = poses.xyxy[rows]
    return (
        float(xyxy[:, 0].min()),
        float(xyxy[:, 1].min()),
        float(xyxy[:, 2].max()),
        float(xyxy[:, 3].max()),
    )
