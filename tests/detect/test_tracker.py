"""The IoU tracker keeps one id per person, whatever order the detector lists them in."""

from __future__ import annotations

import numpy as np
import pytest

from cashwatch.core.geometry import iou_matrix
from cashwatch.core.poses import Poses
from cashwatch.detect.tracker import IouTracker


def people(boxes: list[list[float]]) -> Poses:
    count = len(boxes)
    return Poses(np.array(boxes, np.float32), np.full(count, 0.9), np.zeros((count, 17, 3)))


def test_identity_survives_reordering_and_motion() -> None:
    tracker = IouTracker()
    first = tracker.update(people([[0, 0, 50, 100], [200, 0, 250, 100], [400, 0, 450, 100]]), 0.0)
    ids = {int(first.track_id[i]): i for i in range(3)}
    # listed in reverse order, each moved a little to the right
    later = tracker.update(people([[410, 0, 460, 100], [210, 0, 260, 100], [10, 0, 60, 100]]), 0.13)
    assert [int(t) for t in later.track_id] == [
        int(first.track_id[2]),
        int(first.track_id[1]),
        int(first.track_id[0]),
    ]
    assert len(ids) == 3


def test_crossing_people_keep_ids_thanks_to_velocity() -> None:
    tracker = IouTracker()
    a, b = None, None
    for step in range(8):
        x_a, x_b = 100 + 20 * step, 300 - 20 * step
        boxes = [[x_b, 0, x_b + 60, 120], [x_a, 0, x_a + 60, 120]]
        if step % 2:
            boxes.reverse()
        poses = tracker.update(people(boxes), step * 0.13)
        index_a = 1 if step % 2 == 0 else 0
        ids = (int(poses.track_id[index_a]), int(poses.track_id[1 - index_a]))
        if a is None:
            a, b = ids
        if step < 4:  # before their boxes fully overlap
            assert ids == (a, b)


def test_new_person_gets_a_new_id_and_lost_ones_are_forgotten() -> None:
    tracker = IouTracker(max_age_s=1.0)
    first = int(tracker.update(people([[0, 0, 50, 100]]), 0.0).track_id[0])
    assert tracker.has_tracks(0.5)
    second = tracker.update(people([[300, 0, 350, 100]]), 0.5).track_id[0]
    assert int(second) != first
    assert not tracker.has_tracks(3.0)
    again = int(tracker.update(people([[0, 0, 50, 100]]), 3.0).track_id[0])
    assert again not in (first, int(second))


def test_empty_frames_are_fine() -> None:
    tracker = IouTracker()
    assert len(tracker.update(Poses.empty(), 0.0).track_id) == 0


def test_iou_matrix_values() -> None:
    iou = iou_matrix(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10]]))
    assert iou[0, 0] == pytest.approx(1.0)
    assert iou[0, 1] == pytest.approx(1 / 3)


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="min_iou"):
        IouTracker(min_iou=0.0)
