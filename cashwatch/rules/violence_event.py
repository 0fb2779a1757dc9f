"""The violence event both methods raise: a pair of tracked people, boxed together."""

from __future__ import annotations

from typing import Any

from cashwatch.core.events import DetectedEvent
from cashwatch.core.geometry import union_box
from cashwatch.core.poses import Poses


def pair_event(
    poses: Poses,
    i: int,
    j: int,
    keys: list[int],
    ts: float,
    confidence: float,
    details: dict[str, Any],
) -> DetectedEvent:
    """A violence event around two people of one detection.

    Args:
        poses: The people of the detection, in pixels of the frame.
        i: The first person's position in `poses`.
        j: The second person's position in `poses`.
        keys: Every person's key (`person_keys`), in the order of `poses`.
        ts: The event's time, Unix seconds.
        confidence: The event's confidence, 0..1.
        details: Method-specific details, added to the tracks and boxes every violence
            event carries.

    Returns:
        The event, boxed around both people, its subject the pair of keys, smaller first.

    >>> import numpy as np
    >>> poses = Poses(np.array([[0, 0, 10, 20], [8, 0, 18, 20]]), [0.9, 0.9],
    ...               np.zeros((2, 17, 3)))
    >>> pair_event(poses, 0, 1, [4, 7], 1.0, 0.8, {"method": "pose"}).bbox_xyxy
    (0.0, 0.0, 18.0, 20.0)
    """
    return DetectedEvent(
        event_type="violence",
        ts=ts,
        confidence=confidence,
        bbox_xyxy=union_box(poses.xyxy[i], poses.xyxy[j]),
        subject=(min(keys[i], keys[j]), max(keys[i], keys[j])),
        details={
            "tracks": [keys[i], keys[j]],
            "boxes": [[round(float(v), 1) for v in poses.xyxy[k]] for k in (i, j)],
            **details,
        },
    )
