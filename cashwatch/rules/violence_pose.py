"""Violence by the pose method: two people close together, limbs fast, for a while.

*Limb speed* of a tracked person between two detections: for each of the elbows and
wrists seen in both, its displacement relative to the torso centre (so walking or a
panning camera does not count), divided by the person's body size and by the seconds
between the two detections (timestamps, never frame counts); the fastest limb counts.

A pair of tracks is *fighting* on a detection when both limb speeds reach
`min_limb_speed` and the gap between their boxes is at most `max_gap` body sizes.
A run of such detections, with pauses no longer than `max_pause_s`, that lasts
`min_duration_s` raises one event. Its confidence, in 0..1:

    confidence = 0.5 * speed + 0.25 * duration + 0.25 * keypoints
    speed      = min(1, mean over the run of the slower person's speed / (2 * min_limb_speed))
    duration   = min(1, run length / (2 * min_duration_s))
    keypoints  = mean confidence of the limb keypoints used

so a fight just at the thresholds with clear keypoints scores about 0.55, and one twice
as fast and as long about 0.95.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from cashwatch.config.detection import ViolenceRuleConfig
from cashwatch.core.events import DetectedEvent
from cashwatch.core.geometry import body_size, box_centre, box_gap
from cashwatch.core.poses import Poses
from cashwatch.core.spans import EvidenceLog
from cashwatch.core.tracks import person_keys
from cashwatch.rules.violence_event import pair_event
from cashwatch.rules.violence_features import ARMS, MAX_STEP_S, TORSO

# ARMS (elbows and wrists), TORSO and MAX_STEP_S (detections further apart say nothing
# about speed) are the learned score's own definitions, so both rules measure alike.


@dataclass
class _Seen:
    ts: float
    relative: np.ndarray  # (len(ARMS), 2) limb positions relative to the torso centre
    limb_conf: np.ndarray  # (len(ARMS),)


@dataclass
class _Motion:
    speed: float  # body sizes per second
    keypoint_conf: float
    since_ts: float  # when the previous detection of this person was


@dataclass
class _Run:
    start_ts: float
    last_ts: float
    speeds: list[float] = field(default_factory=list)
    keypoint_confs: list[float] = field(default_factory=list)
    fired: bool = False


class PoseViolenceRule:
    """Both limbs fast and boxes within reach for `min_duration_s` (thresholds in config).

    Args:
        config: The violence settings (limb speeds in body sizes per second, gaps in body
            sizes, durations in seconds).
    """

    def __init__(self, config: ViolenceRuleConfig) -> None:
        self.config = config
        self._seen: dict[int, _Seen] = {}
        self._runs: dict[tuple[int, int], _Run] = {}
        self.evidence = EvidenceLog()  # per pair: within reach, both limbs fast

    @property
    def active(self) -> bool:
        """Whether the rule runs (enabled in the settings)."""
        return self.config.enabled

    def update(self, poses: Poses, ts: float) -> list[DetectedEvent]:
        """Compare each person's limbs with the previous detection and pair the fast ones.

        Args:
            poses: The people just found, tracked, in pixels of the frame.
            ts: The detection's time, Unix seconds.

        Returns:
            The violence events raised on this detection; one per pair whose run has
            lasted `min_duration_s`, at most once per run.
        """
        if not self.active:
            return []
        motions = self._limb_motions(poses, ts)
        sizes = [
            body_size(poses.keypoints[i], poses.xyxy[i], self.config.min_keypoint_conf)
            for i in range(len(poses))
        ]
        keys = person_keys(poses)
        events: list[DetectedEvent] = []
        for i, j in itertools.combinations(range(len(poses)), 2):
            a, b = motions.get(keys[i]), motions.get(keys[j])
            gap = box_gap(poses.xyxy[i], poses.xyxy[j]) / ((sizes[i] + sizes[j]) / 2)
            if a is None or b is None or gap > self.config.max_gap:
                continue
            if min(a.speed, b.speed) < self.config.min_limb_speed:
                continue
            pair = (min(keys[i], keys[j]), max(keys[i], keys[j]))
            self.evidence.saw(pair, ts)
            run = self._extend_run(pair, max(a.since_ts, b.since_ts), ts)
            run.speeds.append(min(a.speed, b.speed))
            run.keypoint_confs.append((a.keypoint_conf + b.keypoint_conf) / 2)
            event = self._fire_if_sustained(run, poses, i, j, keys, ts)
            if event is not None:
                events.append(event)
        self._forget_old(ts)
        return events

    def _limb_motions(self, poses: Poses, ts: float) -> dict[int, _Motion]:
        motions: dict[int, _Motion] = {}
        for index, key in enumerate(person_keys(poses)):
            seen = self._observe(poses.keypoints[index], poses.xyxy[index], ts)
            before = self._seen.get(key)
            self._seen[key] = seen
            if before is None or not 0 < ts - before.ts <= MAX_STEP_S:
                continue
            both = (seen.limb_conf >= self.config.min_keypoint_conf) & (
                before.limb_conf >= self.config.min_keypoint_conf
            )
            if not both.any():
                continue
            size = body_size(
                poses.keypoints[index], poses.xyxy[index], self.config.min_keypoint_conf
            )
            moved = np.linalg.norm(seen.relative[both] - before.relative[both], axis=1)
            motions[key] = _Motion(
                speed=float(moved.max()) / size / (ts - before.ts),
                keypoint_conf=float(np.minimum(seen.limb_conf, before.limb_conf)[both].mean()),
                since_ts=before.ts,
            )
        return motions

    def _observe(self, keypoints: np.ndarray, xyxy: np.ndarray, ts: float) -> _Seen:
        torso = keypoints[list(TORSO)]
        torso_seen = torso[:, 2] >= self.config.min_keypoint_conf
        centre = torso[torso_seen, :2].mean(axis=0) if torso_seen.any() else box_centre(xyxy)
        limbs = keypoints[list(ARMS)]
        return _Seen(ts, limbs[:, :2] - centre, limbs[:, 2].copy())

    def _extend_run(self, pair: tuple[int, int], evidence_from: float, ts: float) -> _Run:
        run = self._runs.get(pair)
        if run is None or evidence_from - run.last_ts > self.config.max_pause_s:
            run = self._runs[pair] = _Run(start_ts=evidence_from, last_ts=ts)
        run.last_ts = ts
        return run

    def _fire_if_sustained(
        self, run: _Run, poses: Poses, i: int, j: int, keys: list[int], ts: float
    ) -> DetectedEvent | None:
        duration = run.last_ts - run.start_ts
        if run.fired or duration < self.config.min_duration_s:
            return None
        run.fired = True
        confidence = violence_confidence(run.speeds, duration, run.keypoint_confs, self.config)
        if confidence < self.config.min_confidence:
            return None
        return pair_event(
            poses,
            i,
            j,
            keys,
            ts,
            confidence,
            {
                "method": "pose",
                "limb_speed": round(float(np.mean(run.speeds)), 2),
                "duration_s": round(duration, 2),
                "started_at": run.start_ts,
            },
        )

    def _forget_old(self, ts: float) -> None:
        horizon = MAX_STEP_S + self.config.max_pause_s
        self._seen = {k: s for k, s in self._seen.items() if ts - s.ts <= horizon}
        self._runs = {
            p: r
            for p, r in self._runs.items()
            if ts - r.last_ts <= max(horizon, self.config.max_pause_s)
        }


def violence_confidence(
    speeds: list[float], duration_s: float, keypoint_confs: list[float], config: ViolenceRuleConfig
) -> float:
    """The documented confidence of a fight from its run.

    Half the mean limb speed against twice the threshold, a quarter the duration against
    twice the minimum, a quarter the keypoint confidence.

    Args:
        speeds: The slower limb speed of the pair at each detection, body sizes per second.
        duration_s: How long the run has lasted, seconds.
        keypoint_confs: The pair's mean limb keypoint confidence per detection, 0..1.
        config: The violence settings (`min_limb_speed`, `min_duration_s`).

    Returns:
        The confidence, 0..1; 0.0 without speeds.

    >>> from cashwatch.config.detection import ViolenceRuleConfig
    >>> round(violence_confidence([4.0], 1.2, [1.0], ViolenceRuleConfig()), 2)
    1.0
    """
    if not speeds:
        return 0.0
    speed = min(1.0, float(np.mean(speeds)) / (2 * config.min_limb_speed))
    duration = min(1.0, duration_s / (2 * config.min_duration_s))
    keypoints = float(np.mean(keypoint_confs)) if keypoint_confs else 0.0
    return float(np.clip(0.5 * speed + 0.25 * duration + 0.25 * keypoints, 0.0, 1.0))
