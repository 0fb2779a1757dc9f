"""Constructed cash hand-overs: two people reach across a counter and their wrists meet.

Used by the tests and for the recall/false-positive figures in docs/evaluation.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cashwatch.config.zones import ZonesConfig
from cashwatch.core.poses import L_WRIST, R_WRIST, Poses
from tests.rules.builders import FRAME_WH, poses_of, stick_figure, timestamps

STAFF, CUSTOMER = 1, 2
ZONES = ZonesConfig(
    cashier=[(0.56, 0.0), (1.0, 0.0), (1.0, 1.0), (0.56, 1.0)],
    counter=[(0.3, 0.1), (0.8, 0.1), (0.8, 0.9), (0.3, 0.9)],
)


@dataclass(frozen=True)
class Handover:
    """One constructed scene; distances in body sizes (shoulder widths), times in s."""

    meet_distance: float = 0.2  # wrist gap at the closest point
    hold_s: float = 0.8  # how long the wrists stay at that gap
    reach_s: float = 0.5  # time to reach out (and back)
    angle_deg: float = 0.0  # the line between the two people, tilted in the image
    jitter_px: float = 0.0  # Gaussian noise on every keypoint
    drop_prob: float = 0.0  # chance that a wrist is missing (confidence 0) on a frame
    size: float = 40.0  # shoulder width in pixels
    fps: float = 7.5


def handover_frames(case: Handover, seed: int = 0) -> list[tuple[float, Poses]]:
    """(ts, Poses) for one hand-over: idle, reach, hold, retract, idle."""
    rng = np.random.default_rng(seed)
    width, height = FRAME_WH
    meet = np.array([0.55 * width, 0.55 * height])
    tilt = np.radians(case.angle_deg)
    axis = np.array([np.cos(tilt), np.sin(tilt)])  # from customer towards staff
    below = np.array([0.0, 0.6 * case.size])  # hips sit below the meeting point
    staff_hip = meet + axis * 2.0 * case.size + below
    customer_hip = meet - axis * 2.0 * case.size + below
    half_gap = axis * case.meet_distance * case.size / 2
    total = 0.5 + 2 * case.reach_s + case.hold_s + 0.5
    frames = []
    for ts in timestamps(total, case.fps):
        reach = _reach_fraction(ts - 0.5, case.reach_s, case.hold_s)
        staff_rest = staff_hip + np.array([-0.6 * case.size, 0.0])
        customer_rest = customer_hip + np.array([0.6 * case.size, 0.0])
        staff_wrist = staff_rest + reach * (meet + half_gap - staff_rest)
        customer_wrist = customer_rest + reach * (meet - half_gap - customer_rest)
        staff = stick_figure(*staff_hip, size=case.size, left_wrist=staff_wrist)
        customer = stick_figure(*customer_hip, size=case.size, right_wrist=customer_wrist)
        for kps, wrist in ((staff, L_WRIST), (customer, R_WRIST)):
            kps[:, :2] += rng.normal(0.0, case.jitter_px, (17, 2)) if case.jitter_px else 0.0
            if rng.random() < case.drop_prob:
                kps[wrist, 2] = 0.0
        frames.append((ts, poses_of([(STAFF, staff), (CUSTOMER, customer)])))
    return frames


def _reach_fraction(t: float, reach_s: float, hold_s: float) -> float:
    """0 at rest, 1 at the meeting point: ramps up, holds, ramps down."""
    if t <= 0 or t >= 2 * reach_s + hold_s:
        return 0.0
    if t < reach_s:
        return t / reach_s
    if t <= reach_s + hold_s:
        return 1.0
    return (2 * reach_s + hold_s - t) / reach_s
