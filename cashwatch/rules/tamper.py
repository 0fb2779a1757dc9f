"""Tampering: the camera's view covered, thrown out of focus, or turned away.

A cash desk is watched only while its camera sees it, and covering or turning that
camera is the first thing a thief at the desk would do. The worker keeps "running" all
the while (frames still arrive), so the rule looks at what the frames show. It compares
each analysed frame with the camera's *reference view*: the mean of its first
`WARMUP_S` of frames, then a running average over about `REFERENCE_S`, in which people
who pass fade out and the fixed scene stays. Once a second (`ANALYSE_EVERY_S`), on a
grey copy `GREY_WIDTH` pixels wide (`cashwatch.core.observation`):

* *blocked*: the view cut into cells (`CELL_COLUMNS` across). Of the cells with texture
  in the reference, the share whose mean gradient fell below `LOST_DETAIL` of the
  reference's: a hand, a cloth, tape or paint over that part. A person standing in front
  of the camera is textured and does not count;
* *scene match*: of the reference's strongest edges (its top `EDGE_SHARE` of gradients),
  the share found again within a pixel among the frame's own strongest edges, above what
  chance gives for their density: 1 when all are there, 0 when no more than by chance.
  People passing hide a part of them (the walking footage stays at 0.62 or more, the gym
  at 0.84; someone filling most of the view for a moment dips lower); a camera turned,
  knocked or swapped finds almost none (0.10 or less); dimmed light keeps them all;
* *sharpness*: fine detail (mean |Laplacian|) per unit of contrast (grey standard
  deviation), against the reference's. A smeared or defocused lens keeps its contrast and
  loses detail; a light turned down loses both and keeps the ratio.

A frame is *evidence* when it is covered (the blocked share reaches `max_blocked_share`
and the scene match is below `COVERED_MAX_MATCH`: the scene gone, not merely darker),
blurred (sharpness below `min_sharpness`) or changed (scene match below
`min_scene_match`). Evidence that began `min_duration_s` ago and holds on
`MIN_EVIDENCE_SHARE` of the analyses since (a hand moving over the lens lets a few
through) raises one event, whose `details.reason` says which ("covered", "blurred",
"view changed"). An *episode* ends after `episode_gap_s` of normal view, the same quiet
that ends the event (`cashwatch.core.spans`); one episode raises one event, a new one
another (the pipeline's cooldown does not apply to this rule).

The reference is frozen while there is evidence (it would otherwise learn the tampered
view). A view that stays changed for `relearn_s`, sharp and uncovered, becomes the new
reference: someone re-aimed the camera on purpose, one event, not one per episode for
ever. A covered or blurred view never does; restarting the camera's worker makes its
view of that moment the usual one. Nothing is judged in the first `WARMUP_S`, nor on a
view with too little texture to compare (a blank wall, a dark room at start-up).

Known false alarms (docs/evaluation.md): someone standing right in front of the lens,
out of focus, for `min_duration_s` reads as blurred or changed; a view changed on
purpose (a camera re-aimed, a room refurnished) raises one event.

    confidence = 0.5 + 0.5 * evidence share over the window
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from cashwatch.config.detection import TamperRuleConfig
from cashwatch.core.events import DetectedEvent, EventType
from cashwatch.core.observation import Observation
from cashwatch.core.spans import END_AFTER_QUIET_S, EvidenceLog, Subject
from cashwatch.core.sustained import EvidenceShare, SustainedEvidence

ANALYSE_EVERY_S = 1.0  # 10 analyses in the 10-s window; ~3 ms of CPU each at 720p
REFERENCE_S = 30.0  # time constant of the reference view's running average
WARMUP_S = 10.0  # the reference forms (fast) before anything is judged
CELL_COLUMNS = 8
LOST_DETAIL = 0.3  # a cell keeping under 30 % of its gradient has lost its detail
MIN_CELL_GRADIENT = 4.0  # grey levels per pixel: a cell flatter than this has no texture
MIN_TEXTURED_SHARE = 0.25  # of the cells: less than this and the view cannot be judged
# Covered means the scene is gone, not merely darker: a room whose lights go down keeps
# the shapes of its edges (match 0.98 at a quarter of the light) while every cell's
# gradient falls below LOST_DETAIL; a hand or a cloth leaves none of them (match ~0).
COVERED_MAX_MATCH = 0.5
EDGE_SHARE = 0.10
MIN_EDGE_GRADIENT = 20.0  # the usual view's edges: real ones, not noise
MIN_FRAME_GRADIENT = 2.0  # a flat (covered) frame has none: every pixel is not an edge
MIN_EVIDENCE_SHARE = 0.8
_NEAR = np.ones((3, 3), np.uint8)


@dataclass(frozen=True)
class ViewCheck:
    """One analysed frame against the reference view.

    Attributes:
        blocked: The share, 0..1, of the reference's textured cells that lost their detail.
        scene_match: The reference's edges found again, above chance: 1 all, 0 chance.
        sharpness: Fine detail per contrast, relative to the reference's (1 the same).
    """

    blocked: float
    scene_match: float
    sharpness: float

    def reason(self, config: TamperRuleConfig) -> str | None:
        """Why this frame is evidence of tampering.

        Args:
            config: The tamper rule's thresholds.

        Returns:
            "covered", "blurred" or "view changed"; None when the view looks normal.
        """
        if self.blocked >= config.max_blocked_share and self.scene_match < COVERED_MAX_MATCH:
            return "covered"
        if self.sharpness < config.min_sharpness:
            return "blurred"
        if self.scene_match < config.min_scene_match:
            return "view changed"
        return None


def _gradient(grey: np.ndarray) -> np.ndarray:
    return cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))


def _cells(gradient: np.ndarray) -> np.ndarray:
    height, width = gradient.shape
    rows = max(1, round(CELL_COLUMNS * height / width))
    return cv2.resize(gradient, (CELL_COLUMNS, rows), interpolation=cv2.INTER_AREA)


def _sharpness(grey: np.ndarray) -> float:
    detail = float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())
    return detail / max(1.0, float(grey.std()))


def _top_gradient(gradient: np.ndarray) -> float:
    return float(np.quantile(gradient, 1.0 - EDGE_SHARE))


def compare_views(reference: np.ndarray, grey: np.ndarray) -> ViewCheck | None:
    """Compare a frame's small grey copy with the reference view.

    Args:
        reference: The reference view, a uint8 grey image.
        grey: The frame's uint8 grey copy, of the same shape.

    Returns:
        The comparison; None when the reference has too little texture to tell.

    >>> rng = np.random.default_rng(0)
    >>> scene = cv2.GaussianBlur(rng.integers(0, 255, (90, 160), np.uint8), (5, 5), 0)
    >>> same = compare_views(scene, scene)
    >>> round(same.blocked, 2), round(same.scene_match, 2), round(same.sharpness, 2)
    (0.0, 1.0, 1.0)
    >>> compare_views(scene, np.full_like(scene, 20)).blocked
    1.0
    """
    ref_gradient, gradient = _gradient(reference), _gradient(grey)
    ref_cells, cells = _cells(ref_gradient), _cells(gradient)
    textured = ref_cells >= MIN_CELL_GRADIENT
    if textured.mean() < MIN_TEXTURED_SHARE:
        return None
    lost = (cells < LOST_DETAIL * ref_cells) & textured
    blocked = float(lost.sum()) / float(textured.sum())
    ref_edges = ref_gradient >= max(MIN_EDGE_GRADIENT, _top_gradient(ref_gradient))
    # the frame's own strongest edges, not those above the usual view's threshold: under
    # dimmed light the same edges are weaker, and they are still the same scene
    edges = gradient > max(MIN_FRAME_GRADIENT, _top_gradient(gradient))
    near_edges = cv2.dilate(edges.astype(np.uint8), _NEAR).astype(bool)
    chance = float(near_edges.mean())
    found = float(np.count_nonzero(near_edges & ref_edges)) / max(1, int(ref_edges.sum()))
    scene_match = float((found - chance) / max(1e-6, 1.0 - chance))
    sharpness = _sharpness(grey) / max(1e-6, _sharpness(reference))
    return ViewCheck(blocked, scene_match, sharpness)


class TamperRule:
    """Feed it every sampled frame of one camera with `update`; it returns tamper events.

    Args:
        config: The tamper rule's settings (durations in seconds, shares 0..1).
        episode_gap_s: How long, in seconds, a normal view ends an episode, so that a
            camera tampered with again afterwards raises a new event.
    """

    event_type: ClassVar[EventType] = "tamper"
    # one event per episode already (core/event_types.py: cooldown "none"): a cooldown
    # would lose the second of two coverings close together, and with it the open event
    uses_poses: ClassVar[bool] = False

    def __init__(self, config: TamperRuleConfig, episode_gap_s: float = END_AFTER_QUIET_S) -> None:
        self.config = config
        # A normal view for this long ends an episode: the same quiet that ends its event
        # (`EventSpans`), so a camera covered again after that raises a new one.
        self.episode_gap_s = episode_gap_s
        self._reference: np.ndarray | None = None  # float32 running average
        self._learned = 0  # frames averaged into the reference during the warm-up
        self._started: float | None = None
        self._next_ts = float("-inf")
        # each analysis's reason (None: a normal view); the window's oldest must be
        # evidence, so the view has been tampered with for min_duration_s, and a hand
        # moving over the lens may leave a few analyses in between looking normal
        self.window = SustainedEvidence[str | None](
            EvidenceShare(
                config.min_duration_s,
                MIN_EVIDENCE_SHARE,
                period_s=ANALYSE_EVERY_S,
                starts_with_evidence=True,
            ),
            episode_gap_s=episode_gap_s,
        )
        self._away_since: float | None = None  # turned away, sharp and uncovered, since
        self.last_check: ViewCheck | None = None
        self.evidence = EvidenceLog()  # one subject, the view

    @property
    def active(self) -> bool:
        """Whether the rule runs (enabled in the settings)."""
        return self.config.enabled

    def update(self, frame_bgr: np.ndarray, ts: float) -> list[DetectedEvent]:
        """`observe` for a frame alone (the rule reads no people).

        Args:
            frame_bgr: The HxWx3 uint8 BGR frame.
            ts: The frame's time, Unix seconds.

        Returns:
            The tamper event raised on this frame, if any (at most one).
        """
        return self.observe(Observation(ts, frame_bgr))

    def observe(self, observation: Observation) -> list[DetectedEvent]:
        """Analyse the frame, at most once every `ANALYSE_EVERY_S`.

        Args:
            observation: the frame and its time; its small grey copy is what is compared.

        Returns:
            The tamper event raised on this frame, if any.
        """
        if not self.active:
            return []
        ts = observation.ts
        if ts < self._next_ts - ANALYSE_EVERY_S:
            self._clock_set_back(ts)
        if ts < self._next_ts:
            return []
        self._next_ts = ts + ANALYSE_EVERY_S
        grey = observation.small_grey
        if self._reference is None or self._reference.shape != grey.shape:
            self._reset(grey, ts)  # first frame, or the source changed resolution
            return []
        if self._started is None or ts - self._started < WARMUP_S:
            self._learn(grey, fast=True)
            return []
        check = compare_views(self._reference.astype(np.uint8), grey)
        self.last_check = check
        reason = check.reason(self.config) if check is not None else None
        if reason is None:
            self._learn(grey, fast=False)
        else:
            self.evidence.saw((), ts)
        # an episode ends after episode_gap_s without evidence: the test `EventSpans.due`
        # ends the event by, whether this frame looks normal or tampered with again
        due = self.window.add(ts, reason, reason is not None)
        if self._relearn(grey, reason, ts) or not due:
            return []
        self.window.fired()
        assert check is not None and reason is not None
        return [self._event(check, reason, observation.frame.shape, ts)]

    def evidence_ts(self, subject: Subject = ()) -> float | None:
        """When the view last looked tampered with.

        Args:
            subject: Ignored: the tamper rule's one subject is the view, `()`.

        Returns:
            The last evidence's time, Unix seconds; None when none is remembered.
        """
        return self.evidence.last(())

    def _clock_set_back(self, ts: float) -> None:
        """Go on from a clock set back, the reference kept and the window started afresh.

        Timestamps are wall-clock: NTP may step the clock back. The warm-up stays done.
        """
        self._next_ts = ts
        if self._started is not None:
            self._started = min(self._started, ts - WARMUP_S)
        self.window.clear()
        self._away_since = None
        self.evidence = EvidenceLog()

    def _reset(self, grey: np.ndarray, ts: float) -> None:
        self._reference = grey.astype(np.float32)
        self._learned = 1
        self._started = ts
        self.window.restart()
        self._away_since = None

    def _learn(self, grey: np.ndarray, fast: bool) -> None:
        """Average a frame into the reference.

        During the warm-up every frame weighs the same (someone who passes early does not
        dominate it), then each new frame weighs 1/30.
        """
        assert self._reference is not None
        if fast:
            self._learned += 1
            weight = 1.0 / self._learned
        else:
            weight = min(1.0, ANALYSE_EVERY_S / REFERENCE_S)
        cv2.accumulateWeighted(grey.astype(np.float32), self._reference, weight)

    def _relearn(self, grey: np.ndarray, reason: str | None, ts: float) -> bool:
        """Adopt a view that has stayed turned away (and sharp, uncovered) for relearn_s."""
        if reason != "view changed":
            self._away_since = None
            return False
        if self._away_since is None:
            self._away_since = ts
        if ts - self._away_since < self.config.relearn_s:
            return False
        self._reference = grey.astype(np.float32)
        self.window.restart()
        self._away_since = None
        return True

    def _event(
        self, check: ViewCheck, reason: str, shape: tuple[int, ...], ts: float
    ) -> DetectedEvent:
        height, width = shape[:2]
        share = self.window.share()
        since = self.window.observations[0].ts  # evidence, as sustained: when it began
        return DetectedEvent(
            event_type="tamper",
            ts=ts,
            confidence=min(1.0, 0.5 + 0.5 * share),
            bbox_xyxy=(0.0, 0.0, float(width), float(height)),
            details={
                "reason": reason,
                "since": round(since, 3),
                "blocked": round(float(check.blocked), 3),
                "scene_match": round(float(check.scene_match), 3),
                "sharpness": round(float(check.sharpness), 3),
                "evidence_share": round(share, 2),
            },
        )
