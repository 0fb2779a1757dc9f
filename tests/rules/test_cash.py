"""Cash hand-over rule on constructed pose sequences, one detection at a time."""

from __future__ import annotations

import pytest

from cashwatch.config.detection import CashRuleConfig
from cashwatch.config.zones import ZonesConfig
from cashwatch.rules.cash import CashHandoverRule
from tests.rules.builders import FRAME_WH
from tests.rules.handover import CUSTOMER, STAFF, ZONES, Handover, handover_frames


def run_rule(
    case: Handover, config: CashRuleConfig | None = None, zones: ZonesConfig = ZONES, seed: int = 0
) -> list:
    rule = CashHandoverRule(config or CashRuleConfig(), zones)
    events = []
    for ts, poses in handover_frames(case, seed):
        events += rule.update(poses, ts, FRAME_WH)
    return events


def test_handover_raises_one_event_with_both_people() -> None:
    events = run_rule(Handover())
    assert len(events) == 1
    event = events[0]
    assert event.event_type == "cash"
    assert event.details["staff_track"] == STAFF
    assert event.details["customer_track"] == CUSTOMER
    assert event.details["wrist_distance_body"] < 0.6
    assert 0.5 <= event.confidence <= 1.0
    x1, y1, x2, y2 = event.bbox_xyxy
    for key in ("staff_wrist", "customer_wrist"):
        wx, wy = event.details[key]
        assert x1 <= wx <= x2 and y1 <= wy <= y2


def test_the_event_is_about_its_pair_and_only_their_meetings_keep_it_going() -> None:
    rule = CashHandoverRule(CashRuleConfig(), ZONES)
    events, met = [], []
    for ts, poses in handover_frames(Handover(), 0):
        events += rule.update(poses, ts, FRAME_WH)
        if rule.evidence_ts((STAFF, CUSTOMER)) == ts:
            met.append(ts)
    assert [e.subject for e in events] == [(STAFF, CUSTOMER)]
    assert met and met[-1] > events[0].ts  # the hand-over goes on after the trigger
    assert rule.evidence_ts((STAFF, CUSTOMER + 100)) is None  # nobody else met


def test_no_cashier_zone_means_no_cash_event() -> None:
    assert run_rule(Handover(), zones=ZonesConfig()) == []


@pytest.mark.parametrize("distance", [0.7, 1.0, 2.0])
def test_wrists_that_stay_apart_do_not_count(distance: float) -> None:
    assert run_rule(Handover(meet_distance=distance)) == []


def test_a_touch_shorter_than_min_hits_does_not_count() -> None:
    brief = Handover(hold_s=0.0, reach_s=0.15)  # at most 2 detections near the counter
    assert run_rule(brief) == []


def test_missing_wrists_raise_nothing() -> None:
    assert run_rule(Handover(drop_prob=1.0)) == []


def test_meeting_outside_the_counter_zone_does_not_count() -> None:
    far_counter = ZonesConfig(
        cashier=ZONES.cashier, counter=[(0.0, 0.0), (0.2, 0.0), (0.2, 0.2), (0.0, 0.2)]
    )
    assert run_rule(Handover(), zones=far_counter) == []


def test_drawer_required_waits_for_a_staff_wrist_in_the_drawer() -> None:
    config = CashRuleConfig(require_drawer=True, drawer_window_s=2.0)
    no_drawer_visit = ZonesConfig(
        cashier=ZONES.cashier,
        counter=ZONES.counter,
        drawer=[(0.9, 0.9), (1.0, 0.9), (1.0, 1.0), (0.9, 1.0)],
    )
    assert run_rule(Handover(), config, no_drawer_visit) == []
    # the staff's left wrist hangs at rest around x=0.6-0.65, y=0.66 of the frame
    drawer_at_rest = ZonesConfig(
        cashier=ZONES.cashier,
        counter=ZONES.counter,
        drawer=[(0.58, 0.6), (0.68, 0.6), (0.68, 0.75), (0.58, 0.75)],
    )
    events = run_rule(Handover(), config, drawer_at_rest)
    assert len(events) == 1
    assert abs(events[0].details["drawer_visit_at"] - events[0].details["met_at"]) <= 2.0


def test_a_long_contact_fires_once_not_every_detection() -> None:
    assert len(run_rule(Handover(hold_s=6.0))) == 1


def test_min_hits_above_window_is_rejected() -> None:
    with pytest.raises(ValueError, match="min_hits"):
        CashRuleConfig(min_hits=6, window=5)


# Recall and false positives over constructed variations (figures in docs/evaluation.md)
POSITIVES = [
    Handover(meet_distance=d, hold_s=h, reach_s=r, angle_deg=a, jitter_px=j, drop_prob=p)
    for d in (0.0, 0.2, 0.4)
    for h in (0.5, 1.0)
    for r in (0.3, 0.8)
    for a in (-25.0, 0.0, 25.0)
    for j in (0.0, 3.0)
    for p in (0.0, 0.2)
]
NEAR_MISSES = [
    Handover(meet_distance=d, hold_s=h, angle_deg=a, jitter_px=j)
    for d in (0.8, 1.0, 1.5)
    for h in (0.5, 2.0)
    for a in (-25.0, 0.0, 25.0)
    for j in (0.0, 3.0)
]


def handover_recall() -> tuple[float, float]:
    found = sum(bool(run_rule(case, seed=i)) for i, case in enumerate(POSITIVES))
    false = sum(bool(run_rule(case, seed=i)) for i, case in enumerate(NEAR_MISSES))
    return found / len(POSITIVES), false / len(NEAR_MISSES)


def test_constructed_handovers_recall_and_near_misses() -> None:
    recall, false_rate = handover_recall()
    assert recall >= 0.85  # the misses are short hand-overs with wrists often unseen
    assert false_rate == 0.0
    clear = [case for case in POSITIVES if case.drop_prob == 0.0]
    assert all(run_rule(case, seed=i) for i, case in enumerate(clear))
