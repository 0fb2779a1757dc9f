"""Fire: flame-coloured pixels that flicker in place, for a while (no person model needed).

On each sampled frame, shrunk to `ANALYSIS_WIDTH` pixels wide:

* *flame colour*: bright (V >= 220), saturated (S >= 60), red to yellow hue (H <= 35 of
  180), and strongly red in YCrCb (Cr >= 155). The Cr bound is the skin/wood filter:
  skin, tan wood and warm walls under bright light reach the same hue and brightness
  but stay at Cr ~135-155, flames at 160-185;
* people found by the pose model (when it ran) are left out: red clothes and lit skin
  are the commonest flame-coloured movers (a person on fire is found by the fire
  around them);
* *area*: the flame-coloured fraction of the frame must reach `min_area`;
* *flicker*: of the pixels flame-coloured at least once in the last `FLICKER_FRAMES`
  sampled frames, the fraction that switched on/off at least twice. Flames change
  shape all the time; a neon sign or a lamp is static (0), and an object moving past
  switches a pixel once;
* *no repeats*: a mask that overlaps an earlier one of the window almost exactly
  (IoU >= `MAX_REPEAT_IOU`) is a blinking sign or a static light, not a flame, whose
  shape never comes back the same;
* *growth*: the ratio of the current area to the smallest area in the history, that
  smallest area taken as at least `min_area` (a window that starts with no fire colour
  at all would otherwise divide by nothing); kept in the event, not required: a steady
  fire is still a fire.

Frames meeting area and flicker are *evidence*; evidence on most (`MIN_EVIDENCE_SHARE`)
of the sampled frames of the last `min_duration_s` raises an event. Confidence:

    confidence = 0.5 + 0.25 * min(1, flicker / (2 * min_flicker))
                     + 0.25 * min(1, area / (4 * min_area))

An optional confirmer (a YOLO fire model a user supplies) must also agree: it is asked
on each frame while the evidence is sustained, and the event waits until it says 0.5
or more. A confirmer that cannot answer (its inference service down or late) does not
hold the fire back: the event is raised on the colour evidence alone, and its details
say why (`confirmer_error`). A fire missed costs more than a false alarm, and the
operator can see which of the two kinds of event it is.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import ClassVar, Protocol

import cv2
import numpy as np

from cashwatch.config.detection import FireRuleConfig
from cashwatch.core.events import DetectedEvent, EventType
from cashwatch.core.observation import Observation
from cashwatch.core.spans import EvidenceLog, Subject
from cashwatch.core.sustained import EvidenceShare, SustainedEvidence

ANALYSIS_WIDTH = 320
FLICKER_FRAMES = 8
MIN_EVIDENCE_SHARE = 0.6
MAX_REPEAT_IOU = 0.8
CONFIRM_FROM = 0.5  # the confirmer's score from which it agrees
MIN_VALUE, MIN_SATURATION, MAX_HUE, MIN_CR = 220, 60, 35, 155
_OPEN_KERNEL = np.ones((2, 2), np.uint8)


class ConfirmerUnavailable(Exception):
    """The confirmer could not judge this frame; its message says why (no secret in it)."""


class FireConfirmer(Protocol):
    """A second opinion on a frame, e.g. a YOLO fire model: confidence of fire, 0..1."""

    def confirm(self, frame_bgr: np.ndarray) -> float:
        """Judge whether a frame shows fire.

        Args:
            frame_bgr: The whole HxWx3 uint8 BGR frame.

        Returns:
            The confidence of fire, 0..1; the rule raises its event from 0.5.

        Raises:
            ConfirmerUnavailable: When it cannot judge now (its service is down or late).
        """
        ...


@dataclass
class _Sample:
    area: float
    flicker: float
    evidence: bool


def flame_mask(small_bgr: np.ndarray) -> np.ndarray:
    """The flame-coloured pixels of an image (thresholds in the module docstring).

    Args:
        small_bgr: An HxWx3 uint8 BGR image, usually the frame shrunk for analysis.

    Returns:
        An HxW bool mask, True on flame-coloured pixels, scattered single pixels removed.
    """
    hsv = cv2.cvtColor(small_bgr, cv2.COLOR_BGR2HSV)
    cr = cv2.cvtColor(small_bgr, cv2.COLOR_BGR2YCrCb)[..., 1]
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    mask = (val >= MIN_VALUE) & (sat >= MIN_SATURATION) & (hue <= MAX_HUE) & (cr >= MIN_CR)
    # an opening drops scattered pixels that toggle with compression noise; a flame is a blob
    opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, _OPEN_KERNEL)
    return opened.astype(bool)


def flicker_fraction(masks: np.ndarray) -> float:
    """The share of the flame pixels that flicker.

    Args:
        masks: (t, h, w) bool flame masks of consecutive samples, oldest first.

    Returns:
        Of the pixels on in any mask, the share, 0..1, that switched twice or more;
        0.0 with fewer than 3 masks or no pixel ever on.

    >>> on, off = np.ones((1, 2, 2), bool), np.zeros((1, 2, 2), bool)
    >>> flicker_fraction(np.concatenate([on, on, on]))
    0.0
    >>> flicker_fraction(np.concatenate([on, off, on]))
    1.0
    """
    ever = masks.any(axis=0)
    if len(masks) < 3 or not ever.any():
        return 0.0
    switches = np.count_nonzero(np.diff(masks.astype(np.int8), axis=0), axis=0)
    return float(np.count_nonzero(switches >= 2)) / float(np.count_nonzero(ever))


def repeats_earlier_mask(masks: list[np.ndarray]) -> bool:
    """Whether the last mask matches an earlier one (a steady light, not a flame).

    Args:
        masks: Bool flame masks of the same shape, oldest first; at least one.

    Returns:
        True when the last mask's IoU with an earlier one is `MAX_REPEAT_IOU` or more.

    >>> on = np.ones((2, 2), bool)
    >>> repeats_earlier_mask([on, ~on, on]), repeats_earlier_mask([~on, on])
    (True, False)
    """
    current = masks[-1]
    for earlier in masks[:-1]:
        union = np.count_nonzero(current | earlier)
        if union and np.count_nonzero(current & earlier) / union >= MAX_REPEAT_IOU:
            return True
    return False


class FireRule:
    """Feed it every sampled frame of one camera with `update`; it returns fire events.

    Args:
        config: The fire rule's settings (areas as 0..1 of the analysed frame, durations
            in seconds).
        confirmer: A second opinion asked before each event (e.g. a YOLO fire model);
            None raises events on the colour and flicker evidence alone.
    """

    event_type: ClassVar[EventType] = "fire"
    uses_poses: ClassVar[bool] = False  # people found anyway are left out of the mask

    def __init__(self, config: FireRuleConfig, confirmer: FireConfirmer | None = None) -> None:
        self.config = config
        self.confirmer = confirmer
        self._masks: deque[np.ndarray] = deque(maxlen=FLICKER_FRAMES)
        # the window fills while the fire is still young: sustained once it spans
        # min_duration_s (its mean sample period included) with evidence on most frames
        self.window = SustainedEvidence[_Sample](
            EvidenceShare(config.min_duration_s, MIN_EVIDENCE_SHARE)
        )
        self.evidence = EvidenceLog()  # one subject, the frame: when flames were last seen

    @property
    def active(self) -> bool:
        """Whether the rule runs (enabled in the settings)."""
        return self.config.enabled

    def observe(self, observation: Observation) -> list[DetectedEvent]:
        """Look at one sampled frame, leaving out the people in view.

        Args:
            observation: the frame, its time and the people in it.

        Returns:
            The fire event raised on this frame, if any.
        """
        poses = observation.poses
        return self.update(
            observation.frame, observation.ts, poses.xyxy if poses is not None else None
        )

    def update(
        self, frame_bgr: np.ndarray, ts: float, people_xyxy: np.ndarray | None = None
    ) -> list[DetectedEvent]:
        """Look at one sampled frame for sustained, flickering flame colours.

        Args:
            frame_bgr: The HxWx3 uint8 BGR frame.
            ts: The frame's time, Unix seconds.
            people_xyxy: (n, 4) boxes of the people in view, pixels of the frame, left out
                of the flame mask; None when no detection ran.

        Returns:
            The fire event raised on this frame, if any (at most one).
        """
        if not self.active:
            return []
        height, width = frame_bgr.shape[:2]
        scale = ANALYSIS_WIDTH / width
        small = cv2.resize(
            frame_bgr, (ANALYSIS_WIDTH, max(1, round(height * scale))), interpolation=cv2.INTER_AREA
        )
        mask = flame_mask(small)
        if people_xyxy is not None:
            _clear_boxes(mask, people_xyxy, scale)
        if self._masks and self._masks[-1].shape != mask.shape:
            self._masks.clear()
        self._masks.append(mask)
        sample = self._sample(mask)
        if sample.evidence:
            self.evidence.saw((), ts)
        if not self.window.add(ts, sample, sample.evidence):
            return []
        opinion = self._confirmation(frame_bgr)
        score = opinion.get("confirmer_score")
        if isinstance(score, float) and score < CONFIRM_FROM:
            return []  # still due on the next evidence: the confirmer may agree then
        self.window.fired()
        return self._event(sample, ts, scale, opinion)

    def _confirmation(self, frame_bgr: np.ndarray) -> dict[str, float | str]:
        """The confirmer's score, or why it has none; {} without a confirmer."""
        if self.confirmer is None:
            return {}
        try:
            return {"confirmer_score": round(float(self.confirmer.confirm(frame_bgr)), 3)}
        except ConfirmerUnavailable as exc:
            return {"confirmer_error": str(exc)}

    def evidence_ts(self, subject: Subject = ()) -> float | None:
        """When flame evidence was last seen anywhere in the frame.

        Args:
            subject: Ignored: the fire rule's one subject is the frame, `()`.

        Returns:
            The last evidence's time, Unix seconds; None when none is remembered.
        """
        return self.evidence.last(())

    def _sample(self, mask: np.ndarray) -> _Sample:
        area = float(np.count_nonzero(mask)) / mask.size
        flicker = flicker_fraction(np.stack(self._masks))
        evidence = (
            area >= self.config.min_area
            and flicker >= self.config.min_flicker
            and not repeats_earlier_mask(list(self._masks))
        )
        return _Sample(area, flicker, evidence)

    def _event(
        self, sample: _Sample, ts: float, scale: float, opinion: dict[str, float | str]
    ) -> list[DetectedEvent]:
        areas = [s.area for s in self.window.values()]
        growth = sample.area / max(min(areas), self.config.min_area, 1e-9)
        confidence = (
            0.5
            + 0.25 * min(1.0, sample.flicker / max(2 * self.config.min_flicker, 1e-9))
            + 0.25 * min(1.0, sample.area / (4 * self.config.min_area))
        )
        if confidence < self.config.min_confidence:
            return []
        recent = np.any(np.stack(self._masks), axis=0).astype(np.uint8)
        x, y, w, h = cv2.boundingRect(recent)
        bbox = (x / scale, y / scale, (x + w) / scale, (y + h) / scale)
        return [
            DetectedEvent(
                event_type="fire",
                ts=ts,
                confidence=float(min(1.0, confidence)),
                bbox_xyxy=bbox,
                details={
                    "area": round(sample.area, 5),
                    "flicker": round(sample.flicker, 3),
                    "growth": round(growth, 2),
                    "evidence_share": round(self.window.share(), 2),
                    **opinion,
                },
            )
        ]


def _clear_boxes(mask: np.ndarray, boxes_xyxy: np.ndarray, scale: float) -> None:
    """People are the commonest flame-coloured movers (red clothes, lit skin): skip them."""
    height, width = mask.shape
    for x1, y1, x2, y2 in np.asarray(boxes_xyxy, np.float64).reshape(-1, 4) * scale:
        mask[
            max(0, int(y1)) : min(height, int(np.ceil(y2))),
            max(0, int(x1)) : min(width, int(np.ceil(x2))),
        ] = False
