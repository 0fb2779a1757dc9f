"""The pose (limb-speed) violence rule on constructed sequences: two people, limbs fast or
not, near or far. The learned rule has its own tests (test_violence_learned.py)."""

from __future__ import annotations

import numpy as np

from cashwatch.config.detection import ViolenceRuleConfig
from cashwatch.core.poses import L_WRIST, R_WRIST
from cashwatch.rules.violence import ViolenceRule
from tests.rules.builders import poses_of, stick_figure, timestamps

SIZE = 40.0


def flailing(centre_x: float, ts: float, amplitude: float, phase: float = 0.0) -> np.ndarray:
    """A person whose wrists swing by `amplitude` body sizes at 2 Hz (0 = still)."""
    kps = stick_figure(centre_x, 250.0, SIZE)
    swing = amplitude * SIZE * np.sin(2 * np.pi * 2.0 * ts + phase)
    kps[L_WRIST, 1] -= 0.8 * SIZE + swing
    kps[R_WRIST, 1] -= 0.8 * SIZE - swing
    return kps


def run(
    seconds: float,
    gap_px: float,
    amplitude_a: float,
    amplitude_b: float,
    fps: float = 7.5,
    time_scale: float = 1.0,
    walk_px_s: float = 0.0,
    drop_limbs: bool = False,
) -> list:
    rule = ViolenceRule(ViolenceRuleConfig(method="pose"))
    events = []
    for ts in timestamps(seconds, fps):
        shift = walk_px_s * ts
        a = flailing(200.0 + shift, ts, amplitude_a)
        b = flailing(200.0 + shift + 1.4 * SIZE + gap_px, ts, amplitude_b, phase=1.0)
        if drop_limbs:
            a[7:11, 2] = 0.0
        # time_scale > 1 replays the same poses more slowly (timestamps stretched)
        events += rule.update(poses_of([(1, a), (2, b)]), ts * time_scale)
    return events


def test_two_people_close_both_flailing_is_violence() -> None:
    events = run(seconds=2.0, gap_px=0.0, amplitude_a=0.8, amplitude_b=0.8)
    assert len(events) == 1
    assert events[0].event_type == "violence"
    assert sorted(events[0].details["tracks"]) == [1, 2]
    assert events[0].details["duration_s"] >= ViolenceRuleConfig().min_duration_s


def test_a_fight_goes_on_while_its_pair_or_one_of_them_keeps_fighting() -> None:
    rule = ViolenceRule(ViolenceRuleConfig(method="pose"))
    events = []
    for ts in timestamps(2.0):
        a, b = flailing(200.0, ts, 0.8), flailing(200.0 + 1.4 * SIZE, ts, 0.8, phase=1.0)
        events += rule.update(poses_of([(1, a), (2, b)]), ts)
    assert [e.subject for e in events] == [(1, 2)]
    fought_until = rule.evidence_ts((1, 2))
    assert fought_until is not None and fought_until > events[0].ts
    # person 2 goes on with person 3 (a new track: the tracker lost 1, or 3 joined in)
    for ts in timestamps(1.0, start=2.0):
        b, c = flailing(200.0 + 1.4 * SIZE, ts, 0.8, phase=1.0), flailing(200.0, ts, 0.8)
        rule.update(poses_of([(3, c), (2, b)]), ts)
    later = rule.evidence_ts((1, 2))
    assert later is not None and later > fought_until + 0.5
    assert rule.evidence_ts((4, 5)) is None  # a pair that never fought


def test_far_apart_is_not_violence() -> None:
    assert run(seconds=2.0, gap_px=5 * SIZE, amplitude_a=0.8, amplitude_b=0.8) == []


def test_only_one_person_moving_is_not_violence() -> None:
    assert run(seconds=2.0, gap_px=0.0, amplitude_a=0.8, amplitude_b=0.0) == []


def test_a_burst_shorter_than_min_duration_is_not_violence() -> None:
    assert run(seconds=0.5, gap_px=0.0, amplitude_a=0.8, amplitude_b=0.8) == []


def test_speed_uses_timestamps_not_frame_counts() -> None:
    # the same frames spread over four times the time are four times slower
    assert run(seconds=2.0, gap_px=0.0, amplitude_a=0.3, amplitude_b=0.3)
    assert run(seconds=2.0, gap_px=0.0, amplitude_a=0.3, amplitude_b=0.3, time_scale=4.0) == []


def test_walking_side_by_side_is_not_violence() -> None:
    assert (
        run(seconds=3.0, gap_px=0.0, amplitude_a=0.05, amplitude_b=0.05, walk_px_s=3 * SIZE) == []
    )


def test_missing_limb_keypoints_raise_nothing() -> None:
    assert run(seconds=2.0, gap_px=0.0, amplitude_a=0.8, amplitude_b=0.8, drop_limbs=True) == []


def test_within_reach_means_boxes_almost_touching() -> None:
    # half a body size between the boxes is a scuffle; a whole body size apart is two
    # people exercising or gesturing side by side (the gym clip's false alarm)
    assert run(seconds=2.0, gap_px=0.5 * SIZE, amplitude_a=0.8, amplitude_b=0.8)
    assert run(seconds=2.0, gap_px=1.0 * SIZE, amplitude_a=0.8, amplitude_b=0.8) == []
