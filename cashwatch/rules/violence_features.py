"""What the violence model sees: a short window of one camera's tracked poses as numbers.

Each tracked person keeps the detections of the last `window_s` seconds. On every
detection the *scene* is summarised in a fixed vector (`FEATURE_NAMES`), computed online
from that history only, so the live rule and the training code use the same function:

- the closest pair of people (box gap in body sizes): how close they are and how much
  their boxes overlap; how fast each one's arms and legs move relative to his own torso
  (the slower and the faster of the two, and the fastest single arm step); how fast the
  distance between them changes; torso motion that goes nowhere (shoving) against net
  travel (walking); how distorted their skeletons are; how sure the detector is of them;
- everyone in view: the fastest arms and torso, how much the boxes jump in size (two
  people wrestling make one box swell and shrink), how many people there are and were,
  how many new tracks appear (entangled fighters break tracks), how sure the keypoints are.

Speeds are in body sizes per second between consecutive detections of a track
(timestamps, never frame counts), averaged over the window, so a missed detection or a
slower detection rate does not change their scale. Large values are squashed with
`log1p`: one wild keypoint should not dominate the sum the model makes of them.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from cashwatch.core.geometry import body_size, box_gap, iou_matrix
from cashwatch.core.poses import L_HIP, L_SHOULDER, R_HIP, R_SHOULDER, Poses
from cashwatch.core.tracks import person_keys

ARMS = (7, 8, 9, 10)  # elbows and wrists
LEGS = (13, 14, 15, 16)  # knees and ankles
TORSO = (L_SHOULDER, R_SHOULDER, L_HIP, R_HIP)
# Two detections of a track further apart than this say nothing about speed.
MAX_STEP_S = 1.0
# A pair further apart than this is "nobody within reach"; gaps are capped here.
FAR_GAP = 3.0

FEATURE_NAMES = (
    "pair_gap",  # box gap of the closest pair now, body sizes (FAR_GAP without a pair)
    "pair_gap_min",  # the smallest gap of that pair over the window
    "pair_iou",  # overlap of their boxes now
    "pair_arm_slow",  # arm speed of the slower of the two, mean over the window (log1p)
    "pair_arm_fast",  # ... of the faster of the two
    "pair_arm_peak",  # the fastest single arm step of either (log1p): punches are bursts
    "pair_leg_fast",  # leg speed of the faster of the two (kicks, stamping)
    "pair_approach",  # mean |change of the distance between them| (log1p body sizes/s)
    "pair_seen",  # share of the window's detections in which both were seen
    "pair_torso_slow",  # torso motion that goes nowhere, slower of the two (log1p): shoving
    "pair_torso_fast",  # ... of the faster of the two
    "pair_jitter",  # shoulders and hips relative to the torso centre (log1p): pose distortion
    "pair_travel",  # net torso displacement of the faster traveller (log1p body sizes/s):
    #                 walking goes somewhere, fighting moves back and forth
    "pair_conf",  # the lower of the two person confidences now (entangled bodies score low)
    "arm_max",  # fastest arms of anyone in view (log1p)
    "torso_max",  # most torso motion that goes nowhere, anyone in view (log1p)
    "box_jump",  # largest |log box-area change| per second of anyone in view (log1p)
    "arm_jerk",  # mean |change of arm speed| between steps, fastest person (log1p)
    "people",  # people in view now (capped at 6)
    "people_max",  # most people at once in the window (capped at 6)
    "new_tracks",  # tracks that started within the window, per second (capped at 6)
    "keypoint_conf",  # mean limb keypoint confidence of the people in view
)
N_FEATURES = len(FEATURE_NAMES)


# Rows of `Observation.relative`: arms, then legs, then the torso's own four points.
_PARTS = (*ARMS, *LEGS, *TORSO)
_ARM_ROWS, _LEG_ROWS, _TORSO_ROWS = slice(0, 4), slice(4, 8), slice(8, 12)


@dataclass(frozen=True)
class Observation:
    """One detection of one tracked person, reduced to what the features need.

    Attributes:
        ts: The detection's time, Unix seconds.
        xyxy: The (4,) box in pixels.
        size: The body size in pixels (one shoulder width, `body_size`).
        centre: The (2,) torso centre in pixels (the box centre when the torso is unseen).
        relative: (12, 2) arm, leg and torso points minus the centre, pixels; NaN unseen.
        limb_conf: The mean confidence, 0..1, of the elbow and wrist keypoints.
        person_conf: The detector's confidence in the person, 0..1.
    """

    ts: float
    xyxy: np.ndarray
    size: float
    centre: np.ndarray
    relative: np.ndarray
    limb_conf: float
    person_conf: float

    @classmethod
    def from_poses(cls, poses: Poses, ts: float, min_conf: float) -> list[Observation]:
        """One observation per person of a detection (vectorised: this runs per frame).

        Args:
            poses: The people of the detection, in pixels of the frame.
            ts: The detection's time, Unix seconds.
            min_conf: The least keypoint confidence, 0..1, that counts as seen.

        Returns:
            One observation per person, in the order of `poses`; empty without people.
        """
        if not len(poses):
            return []
        keypoints = poses.keypoints.astype(np.float64)
        torso = keypoints[:, TORSO]
        seen = torso[:, :, 2] >= min_conf
        count = seen.sum(axis=1)
        torso_centre = (torso[:, :, :2] * seen[:, :, None]).sum(axis=1) / np.maximum(count, 1)[
            :, None
        ]
        boxes = poses.xyxy.astype(np.float64)
        box_centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        centres = np.where(count[:, None] > 0, torso_centre, box_centres)
        parts = keypoints[:, _PARTS]
        relative = parts[:, :, :2] - centres[:, None, :]
        relative[parts[:, :, 2] < min_conf] = np.nan
        limb_conf = parts[:, _ARM_ROWS, 2].mean(axis=1).tolist()
        person_conf = poses.conf.tolist()
        return [
            cls(
                ts=ts,
                xyxy=boxes[i],
                size=body_size(poses.keypoints[i], poses.xyxy[i], min_conf),
                centre=centres[i],
                relative=relative[i],
                limb_conf=limb_conf[i],
                person_conf=person_conf[i],
            )
            for i in range(len(poses))
        ]

    @property
    def area(self) -> float:
        """The box's area in square pixels, at least 1.0."""
        x1, y1, x2, y2 = self.xyxy.tolist()
        area: float = max(1.0, (x2 - x1) * (y2 - y1))
        return area


@dataclass(frozen=True)
class _Step:
    """Motion of one person between two consecutive detections (NaN: not seen twice)."""

    ts: float
    arm: float  # fastest elbow/wrist relative to the torso centre, body sizes/s
    leg: float  # fastest knee/ankle, likewise
    torso: float  # the torso centre itself
    jitter: float  # fastest shoulder/hip relative to the centre: a rigid part, so distortion
    box_jump: float  # |log area change| per second


def _fastest(moved: list[float]) -> float:
    seen = [m for m in moved if m == m]  # NaN != NaN
    return max(seen) if seen else math.nan


def _step(now: Observation, before: Observation) -> _Step | None:
    dt = now.ts - before.ts
    if not 0 < dt <= MAX_STEP_S:
        return None
    scale = (now.size + before.size) / 2 * dt
    delta = now.relative - before.relative
    moved = (np.hypot(delta[:, 0], delta[:, 1]) / scale).tolist()
    centre = now.centre - before.centre
    return _Step(
        ts=now.ts,
        arm=_fastest(moved[_ARM_ROWS]),
        leg=_fastest(moved[_LEG_ROWS]),
        torso=math.hypot(float(centre[0]), float(centre[1])) / scale,
        jitter=_fastest(moved[_TORSO_ROWS]),
        box_jump=abs(math.log(now.area / before.area)) / dt,
    )


def _mean(values: list[float]) -> float:
    seen = [v for v in values if v == v]
    return sum(seen) / len(seen) if seen else 0.0


@dataclass(frozen=True)
class Motion:
    """One person's motion over the window (body sizes per second; 0 when unseen)."""

    arm: float  # mean over the steps of the fastest arm point
    arm_peak: float  # the fastest single arm step
    arm_jerk: float  # mean |change of arm speed| from step to step
    leg: float
    torso: float
    jitter: float
    box_jump: float
    velocity: tuple[float, float]  # net torso displacement / time
    travel: float  # |velocity|
    in_place: float  # torso motion that went nowhere: mean step speed minus travel


@dataclass
class _Track:
    first_ts: float
    seen: deque[Observation] = field(default_factory=deque)
    steps: deque[_Step] = field(default_factory=deque)
    _motion: Motion | None = None

    def add(self, observation: Observation, window_s: float) -> None:
        if self.seen:
            step = _step(observation, self.seen[-1])
            if step is not None:
                self.steps.append(step)
        self.seen.append(observation)
        horizon = observation.ts - window_s
        while self.seen[0].ts < horizon:
            self.seen.popleft()
        while self.steps and self.steps[0].ts < horizon:
            self.steps.popleft()
        self._motion = None

    @property
    def motion(self) -> Motion:
        """Summary of the window, computed once per detection."""
        if self._motion is None:
            self._motion = self._summarise()
        return self._motion

    def _summarise(self) -> Motion:
        steps = list(self.steps)
        arms = [s.arm for s in steps if s.arm == s.arm]
        first, last = self.seen[0], self.seen[-1]
        velocity = (0.0, 0.0)
        if last.ts > first.ts:
            shift = (last.centre - first.centre) / ((first.size + last.size) / 2)
            velocity = (
                float(shift[0]) / (last.ts - first.ts),
                float(shift[1]) / (last.ts - first.ts),
            )
        travel = math.hypot(*velocity)
        torso = _mean([s.torso for s in steps])
        jerks = [abs(b - a) for a, b in itertools.pairwise(arms)]
        return Motion(
            arm=_mean(arms),
            arm_peak=max(arms, default=0.0),
            arm_jerk=_mean(jerks),
            leg=_mean([s.leg for s in steps]),
            torso=torso,
            jitter=_mean([s.jitter for s in steps]),
            box_jump=_mean([s.box_jump for s in steps]),
            velocity=velocity,
            travel=travel,
            in_place=max(0.0, torso - travel),
        )


def pair_gap(a: Observation, b: Observation) -> float:
    """The gap between two people's boxes.

    Args:
        a: One person's observation.
        b: The other's, of the same detection.

    Returns:
        The gap in their mean body size, 0.0 when the boxes touch, at most `FAR_GAP`.
    """
    return min(FAR_GAP, box_gap(a.xyxy, b.xyxy) / ((a.size + b.size) / 2))


class SceneWindow:
    """The last `window_s` seconds of one camera's tracked people, as feature vectors.

    Args:
        window_s: how much history the features summarise.
        min_keypoint_conf: keypoints below this confidence are treated as unseen.

    Attributes:
        closest_pair: The keys of the last detection's two nearest people; None with
            fewer than two.

    Raises:
        ValueError: When `window_s` is not positive.

    >>> from cashwatch.core.poses import Poses
    >>> window = SceneWindow(1.2, 0.3)
    >>> features = window.update(Poses.empty(), 0.0)
    >>> features.shape == (N_FEATURES,), window.people_within(1.0)
    (True, False)
    """

    def __init__(self, window_s: float, min_keypoint_conf: float) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self.window_s = window_s
        self.min_keypoint_conf = min_keypoint_conf
        self._tracks: dict[int, _Track] = {}
        self._counts: deque[tuple[float, int]] = deque()
        self._now: list[int] = []
        self._ts = 0.0
        self.closest_pair: tuple[int, int] | None = None

    def update(self, poses: Poses, ts: float) -> np.ndarray:
        """Add one detection and summarise the window.

        Args:
            poses: The people of the detection, tracked, in pixels of the frame.
            ts: The detection's time, Unix seconds.

        Returns:
            The window's (N_FEATURES,) feature vector; it also sets `closest_pair`.
        """
        self._ts = ts
        keys = person_keys(poses)
        observations = Observation.from_poses(poses, ts, self.min_keypoint_conf)
        for key, observation in zip(keys, observations, strict=True):
            self._tracks.setdefault(key, _Track(first_ts=ts)).add(observation, self.window_s)
        self._now = keys
        self._counts.append((ts, len(keys)))
        horizon = ts - self.window_s
        while self._counts and self._counts[0][0] < horizon:
            self._counts.popleft()
        self._tracks = {k: t for k, t in self._tracks.items() if t.seen[-1].ts >= horizon}
        return self._features()

    def people_within(self, max_gap: float) -> bool:
        """Whether the closest pair of the last detection is within reach.

        Args:
            max_gap: The largest gap between their boxes, in body sizes.

        Returns:
            True when they are at most `max_gap` apart; False with fewer than two people.
        """
        pair = self.closest_pair
        if pair is None:
            return False
        a, b = self._tracks[pair[0]].seen[-1], self._tracks[pair[1]].seen[-1]
        return pair_gap(a, b) <= max_gap

    def _features(self) -> np.ndarray:
        now = [self._tracks[k] for k in self._now]
        self.closest_pair = self._closest_pair()
        values = self._pair_features()
        if now:
            motions = [t.motion for t in now]
            values.update(
                arm_max=math.log1p(max(m.arm for m in motions)),
                torso_max=math.log1p(max(m.in_place for m in motions)),
                box_jump=math.log1p(max(m.box_jump for m in motions)),
                arm_jerk=math.log1p(max(m.arm_jerk for m in motions)),
                keypoint_conf=_mean([t.seen[-1].limb_conf for t in now]),
            )
        born = sum(1 for t in self._tracks.values() if t.first_ts > self._ts - self.window_s)
        values.update(
            people=min(6, len(now)),
            people_max=min(6, max((n for _, n in self._counts), default=0)),
            new_tracks=min(6.0, born / self.window_s),
        )
        return np.array([values.get(name, 0.0) for name in FEATURE_NAMES], np.float64)

    def _closest_pair(self) -> tuple[int, int] | None:
        best: tuple[int, int] | None = None
        best_gap = math.inf
        for a, b in itertools.combinations(self._now, 2):
            gap = pair_gap(self._tracks[a].seen[-1], self._tracks[b].seen[-1])
            if gap < best_gap:
                best, best_gap = (a, b), gap
        return best

    def _pair_features(self) -> dict[str, float]:
        if self.closest_pair is None:
            return {"pair_gap": FAR_GAP, "pair_gap_min": FAR_GAP}
        a, b = (self._tracks[k] for k in self.closest_pair)
        ma, mb = a.motion, b.motion
        by_ts = {o.ts: o for o in b.seen}
        together = [(o, by_ts[o.ts]) for o in a.seen if o.ts in by_ts]
        gaps = [pair_gap(x, y) for x, y in together]
        distances = [
            (math.hypot(*(x.centre - y.centre).tolist()) / ((x.size + y.size) / 2), x.ts)
            for x, y in together
        ]
        approach = [
            abs(d1 - d0) / (t1 - t0)
            for (d0, t0), (d1, t1) in itertools.pairwise(distances)
            if 0 < t1 - t0 <= MAX_STEP_S
        ]
        arms = sorted((ma.arm, mb.arm))
        torsos = sorted((ma.in_place, mb.in_place))
        return {
            "pair_gap": gaps[-1],
            "pair_gap_min": min(gaps),
            "pair_iou": float(iou_matrix(a.seen[-1].xyxy[None], b.seen[-1].xyxy[None])[0, 0]),
            "pair_arm_slow": math.log1p(arms[0]),
            "pair_arm_fast": math.log1p(arms[1]),
            "pair_arm_peak": math.log1p(max(ma.arm_peak, mb.arm_peak)),
            "pair_leg_fast": math.log1p(max(ma.leg, mb.leg)),
            "pair_approach": math.log1p(_mean(approach)),
            "pair_seen": len(together) / max(1, len(self._counts)),
            "pair_torso_slow": math.log1p(torsos[0]),
            "pair_torso_fast": math.log1p(torsos[1]),
            "pair_jitter": math.log1p((ma.jitter + mb.jitter) / 2),
            "pair_travel": math.log1p(max(ma.travel, mb.travel)),
            "pair_conf": min(a.seen[-1].person_conf, b.seen[-1].person_conf),
        }
