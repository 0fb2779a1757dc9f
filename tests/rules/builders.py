"""Small builders for constructed pose sequences (a stick figure per person)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cashwatch.core.poses import L_WRIST, R_WRIST, Poses

FRAME_WH = (640, 360)


def stick_figure(
    centre_x: float,
    hip_y: float,
    size: float = 40.0,
    conf: float = 0.9,
    left_wrist: Sequence[float] | None = None,
    right_wrist: Sequence[float] | None = None,
) -> np.ndarray:
    """(17, 3) keypoints of an upright person, `size` = shoulder width in pixels.

    Wrists hang at the hips unless given; x grows to the person's left in the image.
    """
    s, cx, hy = size, centre_x, hip_y
    sy = hy - 1.25 * s  # torso = shoulder width / 0.8
    points = {
        0: (cx, sy - 0.6 * s),
        1: (cx - 0.1 * s, sy - 0.7 * s),
        2: (cx + 0.1 * s, sy - 0.7 * s),
        3: (cx - 0.2 * s, sy - 0.6 * s),
        4: (cx + 0.2 * s, sy - 0.6 * s),
        5: (cx - 0.5 * s, sy),
        6: (cx + 0.5 * s, sy),
        7: (cx - 0.6 * s, sy + 0.6 * s),
        8: (cx + 0.6 * s, sy + 0.6 * s),
        9: (cx - 0.6 * s, hy),
        10: (cx + 0.6 * s, hy),
        11: (cx - 0.35 * s, hy),
        12: (cx + 0.35 * s, hy),
        13: (cx - 0.35 * s, hy + 1.1 * s),
        14: (cx + 0.35 * s, hy + 1.1 * s),
        15: (cx - 0.35 * s, hy + 2.2 * s),
        16: (cx + 0.35 * s, hy + 2.2 * s),
    }
    kps = np.array([[*points[i], conf] for i in range(17)], np.float32)
    if left_wrist is not None:
        kps[L_WRIST, :2] = left_wrist[:2]
    if right_wrist is not None:
        kps[R_WRIST, :2] = right_wrist[:2]
    return kps


def box_of(keypoints: np.ndarray, margin: float = 4.0) -> np.ndarray:
    xy = keypoints[:, :2]
    return np.array([*(xy.min(axis=0) - margin), *(xy.max(axis=0) + margin)], np.float32)


def poses_of(people: Sequence[tuple[int, np.ndarray]]) -> Poses:
    """Poses of (track_id, keypoints) pairs, boxes from the keypoints."""
    if not people:
        return Poses.empty()
    keypoints = np.stack([kps for _, kps in people])
    poses = Poses(np.stack([box_of(k) for k in keypoints]), np.full(len(people), 0.9), keypoints)
    poses.track_id = np.array([track for track, _ in people], np.int64)
    return poses


def timestamps(seconds: float, fps: float = 7.5, start: float = 0.0) -> list[float]:
    return [start + i / fps for i in range(round(seconds * fps))]
