"""What every rule is fed: one sampled frame, its time and the people in it."""

from __future__ import annotations

import numpy as np

from cashwatch.core.observation import GREY_WIDTH, Observation, small_grey


def test_the_small_grey_copy_is_made_once_and_keeps_the_aspect() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[:, 640:] = 200
    observation = Observation(1.5, frame)
    grey = observation.small_grey
    assert grey.shape == (180, GREY_WIDTH) and grey.dtype == np.uint8
    assert observation.small_grey is grey  # a second rule asking gets the same copy
    np.testing.assert_array_equal(grey, small_grey(frame))
    assert grey[90, 10] == 0 and grey[90, 310] == 200
    assert observation.frame_wh == (1280, 720)
    assert observation.poses is None and observation.fresh is None


def test_a_grey_frame_is_shrunk_without_conversion() -> None:
    grey = np.full((90, 640), 77, np.uint8)
    assert small_grey(grey).shape == (45, GREY_WIDTH)
    assert int(small_grey(grey)[20, 100]) == 77
