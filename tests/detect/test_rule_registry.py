"""The pipeline runs its rules alike: whatever the registry lists is fed every sampled
frame, held back by the cooldown and followed to its end, with no rule-specific code."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from cashwatch.config import CameraSettings
from cashwatch.core.events import DetectedEvent, EventType
from cashwatch.core.observation import Observation
from cashwatch.core.spans import EvidenceLog, Subject
from cashwatch.detect.pipeline import DetectionProcessor
from cashwatch.rules.cash import CashHandoverRule
from cashwatch.rules.fire import FireRule
from cashwatch.rules.registry import camera_rules
from cashwatch.rules.tamper import TamperRule
from cashwatch.rules.violence import ViolenceRule

NO_POSE_RULES = {"cash": {"enabled": False}, "violence": {"enabled": False}}


class BrightFrameRule:
    """A rule of the smallest kind: an event on every bright frame, evidence while bright."""

    event_type: ClassVar[EventType] = "fire"
    uses_poses: ClassVar[bool] = False
    active = True

    def __init__(self) -> None:
        self.evidence = EvidenceLog()
        self.seen: list[float] = []

    def observe(self, observation: Observation) -> list[DetectedEvent]:
        self.seen.append(observation.ts)
        if observation.small_grey.mean() < 128:
            return []
        self.evidence.saw((), observation.ts)
        width, height = observation.frame_wh
        return [
            DetectedEvent(
                event_type="fire",
                ts=observation.ts,
                confidence=0.9,
                bbox_xyxy=(0.0, 0.0, float(width), float(height)),
            )
        ]

    def evidence_ts(self, subject: Subject) -> float | None:
        return self.evidence.last(subject)


def test_the_registry_lists_one_rule_per_type_in_the_order_events_are_listed() -> None:
    rules = camera_rules(CameraSettings(), None, quiet_s=3.0)
    assert [rule.event_type for rule in rules] == ["fire", "tamper", "cash", "violence"]
    assert [type(rule) for rule in rules] == [FireRule, TamperRule, CashHandoverRule, ViolenceRule]
    assert [rule.uses_poses for rule in rules] == [False, False, True, True]
    tamper = rules[1]
    assert isinstance(tamper, TamperRule) and tamper.episode_gap_s == 3.0


def test_a_registered_rule_gets_cooldown_spans_and_snapshots_like_the_others() -> None:
    settings = CameraSettings.model_validate({"cooldown_s": 5.0, "detection": NO_POSE_RULES})
    processor = DetectionProcessor(settings, None)
    assert processor.model is None  # no rule that reads people is active
    rule = BrightFrameRule()
    processor.rules["fire"] = rule
    bright, dark = np.full((90, 160, 3), 230, np.uint8), np.zeros((90, 160, 3), np.uint8)
    frames = [(bright, 0.0), (bright, 1.0), (dark, 2.0), (dark, 5.0), (bright, 6.0)]
    results = [processor.process(frame, ts) for frame, ts in frames]
    assert rule.seen == [0.0, 1.0, 2.0, 5.0, 6.0]
    raised = [(r.events[0].ts, r.events[0].span_id) for r in results if r.events]
    assert [ts for ts, _ in raised] == [0.0, 6.0]  # 1.0 is within the 5-s cooldown
    assert processor.counters.suppressed_by_cooldown == 1
    assert all(r.events[0].snapshot_jpeg for r in results if r.events)
    # the first event lasted while frames stayed bright, ended after 3 s of dark ones
    ended = [span for r in results for span in r.ended]
    assert [(s.span_id, s.started_at, s.ended_at) for s in ended] == [(raised[0][1], 0.0, 1.0)]


def test_without_an_active_rule_that_reads_people_no_model_is_needed() -> None:
    settings = CameraSettings.model_validate({"detection": NO_POSE_RULES})
    processor = DetectionProcessor(settings, None)
    assert processor.model is None and processor.gate is None
    assert not processor.process(np.zeros((90, 160, 3), np.uint8), 0.0).ran_inference
