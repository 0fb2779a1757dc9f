"""The verified method's trigger (stage 1) on constructed sequences: it names a candidate
when people are close and moving, or when two bodies merge into one box, and nothing for
people far apart, standing still, alone, or without limb keypoints."""

from __future__ import annotations

import numpy as np

from cashwatch.rules.violence_trigger import Candidate, TriggerSettings, ViolenceTrigger
from tests.rules.builders import poses_of, stick_figure, timestamps
from tests.rules.test_violence import SIZE, flailing


def candidates(people_at, seconds: float = 2.0) -> list[Candidate]:
    """Run the trigger over `people_at(ts) -> [(track, keypoints), ...]`."""
    trigger = ViolenceTrigger(TriggerSettings())
    found = []
    for ts in timestamps(seconds):
        found.append(trigger.update(poses_of(people_at(ts)), ts))
    return [c for c in found if c is not None]


def pair(gap_px: float, amplitude: float, drop_limbs: bool = False):
    def people_at(ts: float):
        a = flailing(200.0, ts, amplitude)
        b = flailing(200.0 + 1.4 * SIZE + gap_px, ts, amplitude, phase=1.0)
        if drop_limbs:
            a[5:17, 2] = b[5:17, 2] = 0.0
        return [(1, a), (2, b)]

    return people_at


def test_two_people_close_and_flailing_are_a_candidate_boxed_around_them() -> None:
    found = candidates(pair(gap_px=0.0, amplitude=0.8))
    assert found and {c.reason for c in found} == {"pair"}
    x1, _, x2, _ = found[-1].box
    assert x1 < 200.0 < 200.0 + 1.4 * SIZE < x2  # both people inside
    assert found[-1].pose_features.shape == (len(found[-1].pose_features),)


def test_a_third_person_far_away_is_left_out_of_the_candidates_box() -> None:
    def people_at(ts: float):
        return [*pair(0.0, 0.8)(ts), (3, stick_figure(900.0, 250.0, SIZE))]

    found = candidates(people_at)
    assert found and found[-1].box[2] < 900.0 - SIZE


def test_far_apart_still_or_without_limbs_is_no_candidate() -> None:
    assert candidates(pair(gap_px=6 * SIZE, amplitude=0.8)) == []
    assert candidates(pair(gap_px=0.0, amplitude=0.0)) == []
    assert candidates(pair(gap_px=0.0, amplitude=0.8, drop_limbs=True)) == []


def test_one_person_alone_is_no_candidate() -> None:
    assert candidates(lambda ts: [(1, flailing(200.0, ts, 0.8))]) == []


def test_two_people_becoming_one_swelling_box_is_a_merge() -> None:
    def people_at(ts: float):
        if ts < 1.0:
            return [(1, stick_figure(200.0, 250.0, SIZE)), (2, stick_figure(300.0, 250.0, SIZE))]
        one = stick_figure(250.0, 250.0, SIZE)
        one[:, 0] = 250.0 + (one[:, 0] - 250.0) * (1.5 + np.sin(8 * ts))  # wrestling bulk
        return [(3, one)]

    found = candidates(people_at)
    assert found and {c.reason for c in found} == {"merged"}
