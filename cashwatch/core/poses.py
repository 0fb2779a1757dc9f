"""Per-frame pose detections, the common currency of backends, tracker and rules."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# COCO keypoint order used by every Ultralytics pose model
KEYPOINT_NAMES = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST, L_HIP, R_HIP = 5, 6, 9, 10, 11, 12


@dataclass
class Poses:
    """People found in one frame, in pixels of that frame.

    Attributes:
        xyxy: (n, 4) float32 boxes.
        conf: (n,) float32 person confidences.
        keypoints: (n, 17, 3) float32 x, y, visibility-confidence.
        track_id: (n,) int64, -1 until a tracker assigns identities.
    """

    xyxy: np.ndarray
    conf: np.ndarray
    keypoints: np.ndarray
    track_id: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        self.xyxy = np.asarray(self.xyxy, np.float32).reshape(n, 4)
        self.conf = np.asarray(self.conf, np.float32).reshape(n)
        self.keypoints = np.asarray(self.keypoints, np.float32).reshape(n, 17, 3)
        if len(self.track_id) != n:
            self.track_id = np.full((n,), -1, np.int64)

    def __len__(self) -> int:
        return len(self.xyxy)

    def take(self, index: slice | np.ndarray) -> Poses:
        """Select some of the people.

        Args:
            index: A slice, a boolean mask or an array of positions.

        Returns:
            The selected people, track ids kept.
        """
        return Poses(
            self.xyxy[index], self.conf[index], self.keypoints[index], self.track_id[index]
        )

    @classmethod
    def concat(cls, first: Poses, second: Poses) -> Poses:
        """Join the people of two detections of the same frame.

        Args:
            first: People that come first.
            second: People that follow them.

        Returns:
            All of them, in that order, track ids kept.
        """
        return cls(
            np.concatenate([first.xyxy, second.xyxy]),
            np.concatenate([first.conf, second.conf]),
            np.concatenate([first.keypoints, second.keypoints]),
            np.concatenate([first.track_id, second.track_id]),
        )

    @classmethod
    def empty(cls) -> Poses:
        """No people.

        Returns:
            Poses of length 0 with correctly shaped arrays.
        """
        return cls(np.zeros((0, 4)), np.zeros((0,)), np.zeros((0, 17, 3)))
