"""Small geometry on poses, boxes and zones, shared by the rules and the detection.

All inputs are pixels of the analysed frame. A keypoint counts only when its
confidence reaches `min_conf`; every helper says what it falls back to without it.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from cashwatch.core.poses import L_HIP, L_SHOULDER, L_WRIST, R_HIP, R_SHOULDER, R_WRIST

# Shoulder width is about 0.8 torso lengths (shoulder centre to hip centre) for adults
# (biacromial breadth ~39 cm, torso ~48 cm); used to turn either into the other.
SHOULDER_PER_TORSO = 0.8
# A standing person's box is about 4 shoulder widths tall and 1.6 wide. Behind a counter
# the box is cut at the waist, so the larger of the two estimates is used.
SHOULDER_PER_BOX_HEIGHT = 0.25
SHOULDER_PER_BOX_WIDTH = 0.6

WRISTS = (L_WRIST, R_WRIST)


def visible(keypoints: np.ndarray, index: int, min_conf: float) -> bool:
    """Whether one keypoint of a person is confidently seen.

    Args:
        keypoints: One person's (17, 3) COCO keypoints: x, y in pixels and confidence 0..1.
        index: The keypoint's COCO index (`cashwatch.core.poses`).
        min_conf: The least confidence, 0..1, that counts as seen.

    Returns:
        True when the keypoint's confidence reaches `min_conf`.
    """
    return bool(keypoints[index, 2] >= min_conf)


def midpoint(keypoints: np.ndarray, a: int, b: int, min_conf: float) -> np.ndarray | None:
    """The centre of two keypoints of one person.

    Args:
        keypoints: One person's (17, 3) keypoints (pixels, confidence 0..1).
        a: The first keypoint's COCO index.
        b: The second keypoint's COCO index.
        min_conf: The least confidence, 0..1, that counts as seen.

    Returns:
        The (2,) x, y centre in pixels; None unless both keypoints are visible.
    """
    if visible(keypoints, a, min_conf) and visible(keypoints, b, min_conf):
        centre: np.ndarray = (keypoints[a, :2] + keypoints[b, :2]) / 2.0
        return centre
    return None


def box_centre(xyxy: np.ndarray) -> np.ndarray:
    """The centre of a box.

    Args:
        xyxy: The box's x1, y1, x2, y2 in pixels (extra trailing values are ignored).

    Returns:
        The (2,) float32 x, y centre in pixels.
    """
    return np.array([(xyxy[0] + xyxy[2]) / 2.0, (xyxy[1] + xyxy[3]) / 2.0], np.float32)


def anchor_point(keypoints: np.ndarray, xyxy: np.ndarray, min_conf: float) -> np.ndarray:
    """Where a person stands: hip centre, else shoulder centre, else box centre.

    Args:
        keypoints: The person's (17, 3) keypoints (pixels, confidence 0..1).
        xyxy: The person's box in pixels, the fallback when neither pair is visible.
        min_conf: The least keypoint confidence, 0..1, that counts as seen.

    Returns:
        The (2,) x, y point in pixels.
    """
    for a, b in ((L_HIP, R_HIP), (L_SHOULDER, R_SHOULDER)):
        centre = midpoint(keypoints, a, b, min_conf)
        if centre is not None:
            return centre
    return box_centre(xyxy)


def body_size(keypoints: np.ndarray, xyxy: np.ndarray, min_conf: float) -> float:
    """A person's size in pixels, in shoulder widths (> 0).

    The larger of the shoulder width and 0.8 torso lengths when either is visible
    (each shrinks when the person turns sideways or leans towards the camera, so the
    larger is the less foreshortened); otherwise estimated from the box.

    Args:
        keypoints: The person's (17, 3) keypoints (pixels, confidence 0..1).
        xyxy: The person's box in pixels.
        min_conf: The least keypoint confidence, 0..1, that counts as seen.

    Returns:
        One shoulder width in pixels, at least 1.0.

    >>> kps = np.zeros((17, 3), np.float32)
    >>> body_size(kps, np.array([0, 0, 60, 200], np.float32), 0.3)
    50.0
    """
    estimates: list[float] = []
    shoulders = midpoint(keypoints, L_SHOULDER, R_SHOULDER, min_conf)
    if shoulders is not None:
        shoulder_px = keypoints[L_SHOULDER, :2] - keypoints[R_SHOULDER, :2]
        estimates.append(float(np.linalg.norm(shoulder_px)))
        hips = midpoint(keypoints, L_HIP, R_HIP, min_conf)
        if hips is not None:
            estimates.append(SHOULDER_PER_TORSO * float(np.linalg.norm(shoulders - hips)))
    if estimates and max(estimates) > 1.0:
        return max(estimates)
    width, height = float(xyxy[2] - xyxy[0]), float(xyxy[3] - xyxy[1])
    return max(SHOULDER_PER_BOX_HEIGHT * height, SHOULDER_PER_BOX_WIDTH * width, 1.0)


def box_gap(a: np.ndarray, b: np.ndarray) -> float:
    """The distance between two boxes.

    Args:
        a: One box, x1, y1, x2, y2 in pixels.
        b: The other box, in the same pixels.

    Returns:
        The pixels between their nearest edges; 0.0 when they touch or overlap.
    """
    dx = max(0.0, float(max(a[0], b[0]) - min(a[2], b[2])))
    dy = max(0.0, float(max(a[1], b[1]) - min(a[3], b[3])))
    return float(np.hypot(dx, dy))


def union_box(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float]:
    """The smallest box holding two boxes.

    Args:
        a: One box, x1, y1, x2, y2 in pixels.
        b: The other box, in the same pixels.

    Returns:
        The enclosing box's x1, y1, x2, y2.
    """
    return (
        float(min(a[0], b[0])),
        float(min(a[1], b[1])),
        float(max(a[2], b[2])),
        float(max(a[3], b[3])),
    )


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The intersection over union of every box of one set with every box of another.

    Args:
        a: (n, 4) x1, y1, x2, y2 boxes (anything reshapeable to that; n may be 0).
        b: (m, 4) boxes in the same units.

    Returns:
        An (n, m) float64 array of IoU 0..1; 0 where both boxes have no area.

    >>> iou_matrix(np.array([[0, 0, 2, 2]]), np.array([[1, 0, 3, 2], [5, 5, 6, 6]])).round(3)
    array([[0.333, 0.   ]])
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


class PolygonZone:
    """A zone polygon given in normalised 0..1 coordinates, tested in pixels.

    Args:
        points: The polygon's x, y corners, each 0..1 of the frame's width and height.

    Attributes:
        points: The corners as an (n, 2) float32 array, 0..1.

    Raises:
        ValueError: With fewer than 3 points.

    >>> zone = PolygonZone([(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)])
    >>> zone.contains((150.0, 50.0), (200, 100)), zone.contains((10.0, 50.0), (200, 100))
    (True, False)
    """

    def __init__(self, points: Sequence[tuple[float, float]]) -> None:
        if len(points) < 3:
            raise ValueError(f"a zone needs at least 3 points, got {len(points)}")
        self.points = np.asarray(points, np.float32).reshape(-1, 2)

    def pixels(self, frame_wh: tuple[int, int]) -> np.ndarray:
        """The polygon in pixels.

        Args:
            frame_wh: The frame's width and height in pixels.

        Returns:
            The corners as (n, 2) float32 pixels.
        """
        return self.points * np.asarray(frame_wh, np.float32)

    def contains(self, point_xy: Sequence[float] | np.ndarray, frame_wh: tuple[int, int]) -> bool:
        """Whether a point lies in the zone.

        Args:
            point_xy: The point's x, y in pixels.
            frame_wh: The frame's width and height in pixels.

        Returns:
            True inside the polygon or on its edge.
        """
        x, y = float(point_xy[0]), float(point_xy[1])
        return cv2.pointPolygonTest(self.pixels(frame_wh), (x, y), False) >= 0

    def mask(self, frame_wh: tuple[int, int]) -> np.ndarray:
        """The zone as a mask.

        Args:
            frame_wh: The frame's width and height in pixels.

        Returns:
            A (height, width) uint8 mask, 255 inside the zone and 0 outside.
        """
        width, height = frame_wh
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [np.round(self.pixels(frame_wh)).astype(np.int32)], 255)
        return mask


def optional_zone(points: Sequence[tuple[float, float]] | None) -> PolygonZone | None:
    """A zone from optional settings.

    Args:
        points: The zone's corners, 0..1 of the frame; None when no zone is set.

    Returns:
        The zone, or None when `points` is None.

    Raises:
        ValueError: With fewer than 3 points.
    """
    return None if points is None else PolygonZone(points)
