"""Violence by the learned score: two people within reach, and the model sure for a while.

On every detection the scene's last `window_s` seconds become a feature vector
(`violence_features.SceneWindow`) that the model (`violence_model.ViolenceModel`) scores
in 0..1. A detection is a *hit* when the closest pair of people is within `max_gap` body
sizes and the score reaches `min_score`. `min_hits` hits among the last `hit_window`
detections raise one event; the rule fires again only after a whole `hit_window` without
hits. Confidence is the mean score of those hits.

Training (`cashwatch.training.violence_train`) replays recorded clips through these same
classes, so the figures it reports are the figures of this rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cashwatch.config.detection import ViolenceRuleConfig
from cashwatch.core.events import DetectedEvent
from cashwatch.core.poses import Poses
from cashwatch.core.spans import EvidenceLog
from cashwatch.core.sustained import HitCount, SustainedEvidence
from cashwatch.core.tracks import person_keys
from cashwatch.rules.violence_event import pair_event
from cashwatch.rules.violence_features import SceneWindow
from cashwatch.rules.violence_model import ViolenceModel


@dataclass(frozen=True)
class ScoredDetection:
    """What the rule saw on one detection (also what training replays).

    Attributes:
        ts: The detection's time, Unix seconds.
        score: The model's score, 0..1; 0.0 when nobody is within reach.
        within_reach: Whether two people were within `max_gap` body sizes.
    """

    ts: float
    score: float
    within_reach: bool

    def hit(self, min_score: float) -> bool:
        """Whether the detection counts as evidence.

        Args:
            min_score: The least score, 0..1, that counts.

        Returns:
            True when people were within reach and the score reaches `min_score`.
        """
        return self.within_reach and self.score >= min_score


class LearnedViolenceRule:
    """Feed it every detection of one camera with `update`; it returns violence events.

    Args:
        config: The violence settings (`min_score`, `min_hits` of `hit_window`, `max_gap`).
        model: The learned score's parameters; its `window_s` sets the scene's window.
    """

    def __init__(self, config: ViolenceRuleConfig, model: ViolenceModel) -> None:
        self.config = config
        self.model = model
        self.scene = SceneWindow(model.window_s, config.min_keypoint_conf)
        # each detection's score when it was a hit; one event per run of hits
        self.hits = SustainedEvidence[float](hit_window(config))
        self.evidence = EvidenceLog()  # per closest pair: its last hit

    @property
    def active(self) -> bool:
        """Whether the rule runs (enabled in the settings)."""
        return self.config.enabled

    def score(self, poses: Poses, ts: float) -> ScoredDetection:
        """Add one detection to the scene and score it (no event logic).

        Args:
            poses: The people just found, tracked, in pixels of the frame.
            ts: The detection's time, Unix seconds.

        Returns:
            The detection's score and whether anyone was within reach.
        """
        features = self.scene.update(poses, ts)
        within = self.scene.people_within(self.config.max_gap)
        return ScoredDetection(ts, self.model.score(features) if within else 0.0, within)

    def update(self, poses: Poses, ts: float) -> list[DetectedEvent]:
        """Score one detection and raise an event once enough of the window are hits.

        Args:
            poses: The people just found, tracked, in pixels of the frame.
            ts: The detection's time, Unix seconds.

        Returns:
            The violence event raised on this detection, if any (at most one, about the
            closest pair).
        """
        if not self.active:
            return []
        scored = self.score(poses, ts)
        hit = scored.hit(self.config.min_score)
        if hit and self.scene.closest_pair is not None:
            self.evidence.saw(tuple(sorted(self.scene.closest_pair)), ts)
        if not self.hits.add(ts, scored.score, hit):
            return []
        self.hits.fired()
        scores = [o.value if o.evidence else np.nan for o in self.hits.observations]
        confidence = float(np.nanmean(scores))
        if confidence < self.config.min_confidence or self.scene.closest_pair is None:
            return []
        keys = person_keys(poses)
        i, j = (keys.index(k) for k in self.scene.closest_pair)
        return [
            pair_event(
                poses,
                i,
                j,
                keys,
                ts,
                confidence,
                {
                    "method": "learned",
                    "score": round(scored.score, 3),
                    "hits": int(np.count_nonzero(~np.isnan(scores))),
                },
            )
        ]


def hit_window(config: ViolenceRuleConfig) -> HitCount:
    """`min_hits` hits among the last `hit_window` detections (also what training replays).

    Args:
        config: the camera's violence settings.

    Returns:
        The window the learned rule's hits must fill.
    """
    return HitCount(config.min_hits, config.hit_window)
