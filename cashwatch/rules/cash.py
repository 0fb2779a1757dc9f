"""Cash hand-over: a staff wrist and a customer wrist meet, for long enough.

Who is staff: a person whose hip centre (else shoulder centre, else box centre) lies in
the cashier zone; everyone else is a customer. No cashier zone, no cash event.

A *meeting* on one detection: the closest pair of one staff wrist and one customer
wrist (both with keypoint confidence >= `min_keypoint_conf`) is nearer than
`max_wrist_distance` body sizes (the mean of both persons' `body_size`), and, when a
counter zone is set, the midpoint of the two wrists lies in it.

A staff/customer track pair fires once at least `min_hits` of its last `window`
detections were meetings. Its confidence, in 0..1:

    confidence = 0.4 * persistence + 0.3 * closeness + 0.3 * keypoints
    persistence = meetings in the window / window
    closeness   = mean over those meetings of (1 - distance / max_wrist_distance)
    keypoints   = mean over those meetings of the lower of the two wrist confidences

so a brief, borderline, blurry meeting scores low and a clear, sustained one high.
With `require_drawer`, the event also waits for a staff wrist in the drawer zone within
`drawer_window_s` before or after the meeting. A pair fires again only after a whole
window without meetings (the cooldown holds back other pairs).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from cashwatch.config.detection import CashRuleConfig
from cashwatch.config.zones import ZonesConfig
from cashwatch.core.events import DetectedEvent, EventType
from cashwatch.core.geometry import (
    WRISTS,
    body_size,
    optional_zone,
    union_box,
    visible,
)
from cashwatch.core.observation import Observation
from cashwatch.core.poses import Poses
from cashwatch.core.spans import EvidenceLog, Subject
from cashwatch.core.sustained import HitCount, SustainedEvidence
from cashwatch.core.tracks import person_keys
from cashwatch.rules.customers import is_staff

W_PERSISTENCE, W_CLOSENESS, W_KEYPOINTS = 0.4, 0.3, 0.3
# How many past drawer visits per staff member are remembered; only recent ones matter.
DRAWER_HISTORY = 32


@dataclass(frozen=True)
class Meeting:
    """A staff wrist and a customer wrist close together on one detection."""

    ts: float
    staff_track: int
    customer_track: int
    staff_box: tuple[float, float, float, float]
    customer_box: tuple[float, float, float, float]
    staff_wrist: tuple[float, float]
    customer_wrist: tuple[float, float]
    distance_px: float
    distance_body: float  # distance in body sizes
    keypoint_conf: float


@dataclass
class _PairState:
    # a meeting or None per detection; the pair fires once per run of meetings
    meetings: SustainedEvidence[Meeting | None]
    # the window's meetings once the pair qualified, kept while waiting for a drawer visit
    pending: list[Meeting] = field(default_factory=list)


@dataclass
class _Person:
    key: int
    box: np.ndarray
    keypoints: np.ndarray
    size: float
    wrists: list[tuple[np.ndarray, float]] = field(default_factory=list)


class CashHandoverRule:
    """Feed it every detection of one camera with `update`; it returns cash events.

    Args:
        config: The cash rule's settings (distances in shoulder widths, windows in
            detections or seconds).
        zones: The camera's zones; without a cashier zone the rule is inactive, without
            a drawer zone drawer visits are not looked for.
    """

    event_type: ClassVar[EventType] = "cash"
    uses_poses: ClassVar[bool] = True

    def __init__(self, config: CashRuleConfig, zones: ZonesConfig) -> None:
        self.config = config
        self.cashier = optional_zone(zones.cashier)
        self.counter = optional_zone(zones.counter)
        self.drawer = optional_zone(zones.drawer)
        self._pairs: dict[tuple[int, int], _PairState] = {}
        self._drawer_visits: dict[int, deque[float]] = {}
        self.evidence = EvidenceLog()  # per (staff, customer) pair: when wrists last met

    @property
    def active(self) -> bool:
        """Whether the rule runs: enabled, and the camera has a cashier zone."""
        return self.config.enabled and self.cashier is not None

    def observe(self, observation: Observation) -> list[DetectedEvent]:
        """Look at everyone in view, fresh or carried: a distance holds while nobody moves.

        Args:
            observation: the frame's time and people (nothing before anyone was found).

        Returns:
            The cash events raised on this detection.
        """
        if observation.poses is None:
            return []
        return self.update(observation.poses, observation.ts, observation.frame_wh)

    def update(self, poses: Poses, ts: float, frame_wh: tuple[int, int]) -> list[DetectedEvent]:
        """Pair staff in the cashier zone with customers and advance each pair's window.

        Args:
            poses: The people of one detection, tracked, in pixels of the frame.
            ts: The detection's time, Unix seconds.
            frame_wh: The frame's width and height in pixels (for the 0..1 zones).

        Returns:
            The cash events raised on this detection; empty when the rule is inactive or
            no pair's wrists met long enough.
        """
        if not self.active:
            return []
        staff, customers = self._split_people(poses, frame_wh)
        self._note_drawer_visits(staff, ts, frame_wh)
        seen: set[tuple[int, int]] = set()
        events: list[DetectedEvent] = []
        for person, other in itertools.product(staff, customers):
            pair = (person.key, other.key)
            seen.add(pair)
            meeting = self._meeting(person, other, ts, frame_wh)
            if meeting is not None:
                self.evidence.saw(pair, ts)
            event = self._advance(pair, meeting, ts)
            if event is not None:
                events.append(event)
        for pair in list(self._pairs):
            if pair not in seen:
                event = self._advance(pair, None, ts)
                if event is not None:
                    events.append(event)
        return events

    def evidence_ts(self, subject: Subject) -> float | None:
        """When a staff/customer pair's wrists last met (what keeps its event going).

        Args:
            subject: The (staff track, customer track) pair.

        Returns:
            The last meeting's time, Unix seconds; None when none is remembered.
        """
        return self.evidence.last(subject)

    def _split_people(
        self, poses: Poses, frame_wh: tuple[int, int]
    ) -> tuple[list[_Person], list[_Person]]:
        assert self.cashier is not None
        min_conf = self.config.min_keypoint_conf
        staff: list[_Person] = []
        customers: list[_Person] = []
        for index, key in enumerate(person_keys(poses)):
            kps, box = poses.keypoints[index], poses.xyxy[index]
            person = _Person(key, box, kps, body_size(kps, box, min_conf))
            person.wrists = [
                (kps[w, :2], float(kps[w, 2])) for w in WRISTS if visible(kps, w, min_conf)
            ]
            inside = is_staff(kps, box, self.cashier, frame_wh, min_conf)
            (staff if inside else customers).append(person)
        return staff, customers

    def _meeting(
        self, staff: _Person, customer: _Person, ts: float, frame_wh: tuple[int, int]
    ) -> Meeting | None:
        scale = (staff.size + customer.size) / 2.0
        best: Meeting | None = None
        for (s_xy, s_conf), (c_xy, c_conf) in itertools.product(staff.wrists, customer.wrists):
            distance = float(np.linalg.norm(s_xy - c_xy))
            if distance / scale >= self.config.max_wrist_distance:
                continue
            if self.counter is not None and not self.counter.contains((s_xy + c_xy) / 2, frame_wh):
                continue
            if best is None or distance < best.distance_px:
                best = Meeting(
                    ts=ts,
                    staff_track=staff.key,
                    customer_track=customer.key,
                    staff_box=_box(staff.box),
                    customer_box=_box(customer.box),
                    staff_wrist=_point(s_xy),
                    customer_wrist=_point(c_xy),
                    distance_px=distance,
                    distance_body=distance / scale,
                    keypoint_conf=min(s_conf, c_conf),
                )
        return best

    def _advance(
        self, pair: tuple[int, int], meeting: Meeting | None, ts: float
    ) -> DetectedEvent | None:
        state = self._pairs.get(pair)
        if state is None:
            if meeting is None:
                return None
            window = HitCount(self.config.min_hits, self.config.window)
            state = self._pairs[pair] = _PairState(SustainedEvidence(window))
        due = state.meetings.add(ts, meeting, meeting is not None)
        if not state.meetings.has_evidence and (
            not state.pending or ts - state.pending[-1].ts > self.config.drawer_window_s
        ):
            del self._pairs[pair]
            return None
        if due:
            state.meetings.fired()
            state.pending = [m for m in state.meetings.values(evidence_only=True) if m is not None]
        return self._fire_if_ready(state, ts)

    def _fire_if_ready(self, state: _PairState, ts: float) -> DetectedEvent | None:
        if not state.pending:
            return None
        met, meeting = state.pending, state.pending[-1]
        drawer_ts = self._drawer_visit_near(meeting)
        if self.config.require_drawer and drawer_ts is None:
            if ts - meeting.ts > self.config.drawer_window_s:
                state.pending = []
            return None
        state.pending = []
        confidence = handover_confidence(met, self.config)
        if confidence < self.config.min_confidence:
            return None
        details = {
            "staff_track": meeting.staff_track,
            "customer_track": meeting.customer_track,
            "staff_box": list(meeting.staff_box),
            "customer_box": list(meeting.customer_box),
            "staff_wrist": list(meeting.staff_wrist),
            "customer_wrist": list(meeting.customer_wrist),
            "wrist_distance_px": round(meeting.distance_px, 1),
            "wrist_distance_body": round(meeting.distance_body, 3),
            "hits": len(met),
            "window": self.config.window,
            "met_at": meeting.ts,
        }
        if drawer_ts is not None:
            details["drawer_visit_at"] = drawer_ts
        return DetectedEvent(
            event_type="cash",
            ts=ts,
            confidence=confidence,
            bbox_xyxy=union_box(np.asarray(meeting.staff_box), np.asarray(meeting.customer_box)),
            details=details,
            subject=(meeting.staff_track, meeting.customer_track),
        )

    def _note_drawer_visits(
        self, staff: list[_Person], ts: float, frame_wh: tuple[int, int]
    ) -> None:
        if self.drawer is None:
            return
        for person in staff:
            if any(self.drawer.contains(xy, frame_wh) for xy, _ in person.wrists):
                visits = self._drawer_visits.setdefault(person.key, deque(maxlen=DRAWER_HISTORY))
                visits.append(ts)

    def _drawer_visit_near(self, meeting: Meeting) -> float | None:
        if self.drawer is None:
            return None
        visits = self._drawer_visits.get(meeting.staff_track, ())
        near = [t for t in visits if abs(t - meeting.ts) <= self.config.drawer_window_s]
        return min(near, key=lambda t: abs(t - meeting.ts)) if near else None


def handover_confidence(meetings: list[Meeting], config: CashRuleConfig) -> float:
    """The documented confidence of a hand-over from the meetings in its window.

    A weighted sum of persistence (meetings per window), closeness (wrist distance
    against the maximum) and keypoint confidence.

    Args:
        meetings: The meetings of the pair's window; may be empty.
        config: The cash rule's settings (`window`, `max_wrist_distance`).

    Returns:
        The confidence, 0..1; 0.0 without meetings.

    >>> from cashwatch.config.detection import CashRuleConfig
    >>> m = Meeting(0.0, 1, 2, (0, 0, 1, 1), (0, 0, 1, 1), (0, 0), (0, 0), 0.0, 0.0, 1.0)
    >>> round(handover_confidence([m] * 5, CashRuleConfig(window=5)), 3)
    1.0
    """
    if not meetings:
        return 0.0
    persistence = min(1.0, len(meetings) / config.window)
    closeness = float(
        np.mean([1.0 - m.distance_body / config.max_wrist_distance for m in meetings])
    )
    keypoints = float(np.mean([m.keypoint_conf for m in meetings]))
    score = W_PERSISTENCE * persistence + W_CLOSENESS * closeness + W_KEYPOINTS * keypoints
    return float(np.clip(score, 0.0, 1.0))


def _box(xyxy: np.ndarray) -> tuple[float, float, float, float]:
    return (float(xyxy[0]), float(xyxy[1]), float(xyxy[2]), float(xyxy[3]))


def _point(xy: np.ndarray) -> tuple[float, float]:
    return (round(float(xy[0]), 1), round(float(xy[1]), 1))
