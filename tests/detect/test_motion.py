"""The motion gate skips a static scene, passes motion, and can watch only the zones."""

from __future__ import annotations

import numpy as np

from cashwatch.config.detection import MotionConfig
from cashwatch.config.zones import ZonesConfig
from cashwatch.detect.motion import MotionGate


def scene(square_x: int | None = None, noise_seed: int | None = None) -> np.ndarray:
    frame = np.full((360, 640, 3), 90, np.uint8)
    frame[200:, :] = 140  # a floor
    if noise_seed is not None:  # sensor noise: a few grey levels
        rng = np.random.default_rng(noise_seed)
        frame = np.clip(frame + rng.integers(-4, 5, frame.shape), 0, 255).astype(np.uint8)
    if square_x is not None:
        frame[100:220, square_x : square_x + 60] = 230
    return frame


def test_static_scene_is_skipped_after_the_first_frame() -> None:
    gate = MotionGate(MotionConfig())
    results = [gate.update(scene(noise_seed=i)) for i in range(20)]
    assert results[0] is True  # nothing to compare with yet
    assert not any(results[1:])


def test_moving_object_passes() -> None:
    gate = MotionGate(MotionConfig())
    for i in range(5):
        gate.update(scene(noise_seed=i))
    assert gate.update(scene(square_x=300))
    assert gate.last_fraction >= MotionConfig().min_area


def test_motion_outside_the_zones_is_ignored() -> None:
    zones = ZonesConfig(cashier=[(0.0, 0.0), (0.2, 0.0), (0.2, 0.3), (0.0, 0.3)])
    gate = MotionGate(MotionConfig(), zones)
    gate.update(scene())
    assert not gate.update(scene(square_x=400))  # right half, the zone is top-left
    gate = MotionGate(MotionConfig(), zones)
    gate.update(scene())
    assert gate.update(scene(square_x=40))


def test_a_thing_that_stops_moving_is_no_change_once_looked_at() -> None:
    gate = MotionGate(MotionConfig())
    gate.update(scene())
    gate.looked()
    assert gate.update(scene(square_x=300))
    gate.looked()  # the model saw the square where it now stands
    assert not any(gate.update(scene(square_x=300, noise_seed=i)) for i in range(10))


def test_change_is_measured_against_the_last_looked_at_frame() -> None:
    """Without a look the reference stays: a thing that arrived and stopped still counts."""
    gate = MotionGate(MotionConfig())
    gate.update(scene())
    gate.looked()
    assert all(gate.update(scene(square_x=300, noise_seed=i)) for i in range(10))


def test_slow_change_adds_up_instead_of_being_absorbed() -> None:
    gate = MotionGate(MotionConfig())
    base = scene()
    gate.update(base)
    gate.looked()
    results = []
    for step in range(1, 11):  # the left third brightens by 4 grey levels a frame
        frame = base.copy()
        frame[:, :200] = np.clip(frame[:, :200].astype(int) + 4 * step, 0, 255)
        results.append(gate.update(frame))
    assert not results[0] and results[-1]
