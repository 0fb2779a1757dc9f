"""Who is at the counter as a customer: a pure count over the people in view.

The till's refunds and no-sales are judged by it (`cashwatch.till.exceptions`): one rung
up while nobody stands at the counter is the classic refund to no one. A customer is
told from staff as the cash rule tells them (`cashwatch.rules.cash`): a person whose
hip centre (else shoulder centre, else box centre) lies outside the cashier zone.
Without a cashier zone staff cannot be told apart, so everyone but one person (the
cashier) counts: a camera on a till should have its cashier zone drawn.
"""

from __future__ import annotations

import numpy as np

from cashwatch.core.geometry import PolygonZone, anchor_point
from cashwatch.core.poses import Poses


def is_staff(
    keypoints: np.ndarray,
    xyxy: np.ndarray,
    cashier: PolygonZone,
    frame_wh: tuple[int, int],
    min_conf: float,
) -> bool:
    """Whether a person stands in the cashier zone (the cash rule's staff, too).

    Args:
        keypoints: The person's (17, 3) keypoints.
        xyxy: The person's box in pixels.
        cashier: The cashier zone.
        frame_wh: The frame's width and height in pixels.
        min_conf: The least keypoint confidence that counts as seen.

    Returns:
        True when their hip centre (else shoulder centre, else box centre) is inside.
    """
    return cashier.contains(anchor_point(keypoints, xyxy, min_conf), frame_wh)


def customers_in_view(
    poses: Poses | None, cashier: PolygonZone | None, frame_wh: tuple[int, int], min_conf: float
) -> int:
    """How many of the people in view are customers.

    Args:
        poses: The people in view; None when nobody has looked yet.
        cashier: The camera's cashier zone; None when it has none.
        frame_wh: The frame's width and height in pixels.
        min_conf: The least keypoint confidence that counts as seen.

    Returns:
        The people outside the cashier zone; without one, all but one.

    >>> def person(x: float) -> tuple[list[float], np.ndarray]:
    ...     return [x - 10, 100, x + 10, 200], np.zeros((17, 3), np.float32)
    >>> boxes, kps = zip(*(person(x) for x in (50, 150, 300)))
    >>> people = Poses(np.array(boxes), np.ones(3), np.stack(kps))
    >>> left_third = PolygonZone([(0, 0), (0.33, 0), (0.33, 1), (0, 1)])
    >>> customers_in_view(people, left_third, (640, 480), 0.3)
    1
    >>> customers_in_view(people, None, (640, 480), 0.3)
    2
    >>> customers_in_view(None, left_third, (640, 480), 0.3)
    0
    """
    if poses is None or len(poses) == 0:
        return 0
    if cashier is None:
        return len(poses) - 1
    return sum(
        1
        for kps, box in zip(poses.keypoints, poses.xyxy, strict=True)
        if not is_staff(kps, box, cashier, frame_wh, min_conf)
    )
