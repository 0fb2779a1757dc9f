"""Which key a rule keeps a person's state under."""

from __future__ import annotations

from cashwatch.core.poses import Poses


def person_keys(poses: Poses) -> list[int]:
    """Track ids; a person the tracker has not named gets a key from its list position.

    Position keys (negative, so they never collide with track ids) only stay the same
    person while the list order does, so rules work untracked but are meant to be fed
    tracked poses.

    Args:
        poses: The people of one frame.

    Returns:
        One key per person, in the order of `poses`.

    >>> import numpy as np
    >>> poses = Poses(np.zeros((2, 4)), np.ones(2), np.zeros((2, 17, 3)))
    >>> person_keys(poses)
    [-1, -2]
    """
    return [
        int(track) if track >= 0 else -(index + 1) for index, track in enumerate(poses.track_id)
    ]
