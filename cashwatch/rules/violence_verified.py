"""Violence by the verified method: a cheap trigger on poses, then a learned look at the video.

Stage 1, the trigger (`violence_trigger.ViolenceTrigger`), reads every fresh detection and
names *candidates*: people close and moving. Stage 2, the verifier, looks at the last
`RING_FRAMES` sampled frames around the candidate's people: a `VideoVerifier` (the I3D
network, in the first shared inference service or in this process) turns them into
video features, and the `VerifierModel` scores those with the candidate's pose
features. A score reaching the model's threshold raises the event.

- One request at a time per camera, at most one every `verify_every_s`, and only once
  the ring holds `MIN_RING_FRAMES` frames. A busy verifier (`submit` False) just skips
  the candidate: the next one is asked.
- An *episode* is a run of candidates with gaps shorter than `EPISODE_GAP_S`; it raises
  at most one event, at the time its verdict comes back, boxed around the candidate's
  people, its subject their closest pair. Confidence is the score.
- Fallback: while no verifier can answer (none in this process, a verdict that came
  back with an error, a request unanswered for `VERDICT_LIMIT_S`), the pose method
  (`violence_pose.PoseViolenceRule`, always fed: it is cheap) raises the events, marked
  `details.verifier = "unavailable: <reason>"`, and `fallback_reason` says why for the
  camera's status. Requests go on being sent, so the first good verdict switches back.
  The pose rule raises once per fight, often before the first verdict is back: its
  event is held, and raised if that verdict comes back as an error.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import cv2
import numpy as np

from cashwatch.config.detection import ViolenceRuleConfig
from cashwatch.core.events import DetectedEvent, EventType
from cashwatch.core.observation import Observation
from cashwatch.core.poses import Poses
from cashwatch.core.spans import EvidenceLog, Subject
from cashwatch.core.tracks import person_keys
from cashwatch.rules.violence_pose import PoseViolenceRule
from cashwatch.rules.violence_trigger import Candidate, TriggerSettings, ViolenceTrigger
from cashwatch.rules.violence_verifier_model import VIDEO_FEATURES, VerifierModel

# The verifier's window (cashwatch.detect.video_features.VIDEO_WINDOW, which this layer
# may not import): 16 sampled frames, ~2 s at the default 7.5 frames/s.
RING_FRAMES = 16
# Fewer frames than this say too little about motion; the window repeats them to 16.
MIN_RING_FRAMES = 8
# The verifier crops the people and shrinks them to 224 px: 480 px keeps a crop of a
# quarter of the frame sharp. At 720p the ring keeps 640x360 frames (`ring_sizes`): 16
# cost ~11 MB instead of 44.
RING_LONG_SIDE = 480
EPISODE_GAP_S = 3.0
# A verifier owes every request taken a verdict (its own deadline is seconds); one that
# owes one this long is treated as down, so a stuck verifier cannot leave the camera
# with neither verdicts nor the fallback.
VERDICT_LIMIT_S = 30.0
NO_VERIFIER = "no video verifier in this process (per-camera models and Ray actors run none)"

Box = tuple[float, float, float, float]


def ring_sizes(width: int, height: int) -> tuple[tuple[int, int], tuple[int, int] | None, float]:
    """How a frame is kept in the ring, and the size the verifier finishes it to.

    Every sampled frame goes into the ring, but few are ever looked at. OpenCV's
    `INTER_AREA` is ~13 times cheaper by a whole factor than by any other (one core,
    720p: 0.28 ms to 640x360, 3.6 ms to 480x270), so the ring keeps the frame shrunk by
    the largest whole factor (dividing both sides) that stays at least `RING_LONG_SIDE`,
    and the verifier shrinks the rest of the way (`VerifyRequest.window_frames`) on its
    own thread, only when it looks. Two area shrinks differ from one by under half a
    grey level on average.

    >>> ring_sizes(1280, 720)
    ((640, 360), (480, 270), 0.375)
    >>> ring_sizes(1920, 1080)
    ((480, 270), None, 0.25)
    >>> ring_sizes(320, 240)
    ((320, 240), None, 1.0)

    Args:
        width: The frame's width in pixels.
        height: The frame's height in pixels.

    Returns:
        The kept size (width, height); the size the verifier shrinks kept frames to,
        None when they are kept at it; pixels of the finished frame per pixel of the
        frame.
    """
    scale = min(1.0, RING_LONG_SIDE / max(height, width))
    final = (max(1, round(width * scale)), max(1, round(height * scale)))
    # straight to the ring's size unless a whole factor of 2 or more divides the frame
    kept = final if scale < 1.0 else (width, height)
    for factor in range(max(height, width) // RING_LONG_SIDE, 1, -1):
        if width % factor == 0 and height % factor == 0:  # e.g. 4 for 2688x1520 (4 MP)
            kept = (width // factor, height // factor)
            break
    return kept, (None if kept == final else final), scale


@dataclass(frozen=True)
class VerifyRequest:
    """A candidate and the frames to verify it on.

    Attributes:
        candidate: The trigger's candidate (its box in pixels of the frame).
        frames: The ring, oldest first: HxWx3 uint8 BGR copies, shrunk by `scale`, or
            by a whole factor on the way there when `size` is set; never written to
            afterwards, so a verifier may read them on another thread.
        scale: Pixels of the finished ring frames (`window_frames`) per pixel of the
            frame (multiply the box by it).
        size: Width and height the verifier shrinks `frames` to before it crops
            (`window_frames`); None when they are already there.
    """

    candidate: Candidate
    frames: list[np.ndarray]
    scale: float
    size: tuple[int, int] | None = None

    def window_frames(self) -> list[np.ndarray]:
        """The frames at the ring's size, what a verifier crops (`ring_box` is in them).

        Returns:
            `frames`, each shrunk to `size` (width, height) with `INTER_AREA` where it is
            larger; the frames themselves when `size` is None.
        """
        if self.size is None:
            return self.frames
        return [
            frame
            if (frame.shape[1], frame.shape[0]) == self.size
            else cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
            for frame in self.frames
        ]

    @property
    def ring_box(self) -> Box | None:
        """The candidate's box in pixels of the ring's frames (what a verifier crops).

        Returns:
            x1, y1, x2, y2; None when the box has no area (look at the whole frame).
        """
        x1, y1, x2, y2 = self.candidate.box
        if x2 <= x1 or y2 <= y1:
            return None
        return (x1 * self.scale, y1 * self.scale, x2 * self.scale, y2 * self.scale)


@dataclass(frozen=True)
class Verdict:
    """What a verifier made of a request.

    Attributes:
        request: The request it answers.
        video: The (1024,) video features; None when there are none.
        error: Why there are none (the verifier down or late); "" with features.
    """

    request: VerifyRequest
    video: np.ndarray | None
    error: str = ""


class VideoVerifier(Protocol):
    """Turns a candidate's frames into video features, perhaps in another process.

    Every request `submit` takes gets exactly one `Verdict` from a later `poll` (or from
    the `poll` right after it, for a verifier that works synchronously).
    """

    def submit(self, request: VerifyRequest) -> bool:
        """Take a request if there is room for it.

        Args:
            request: The candidate and its frames.

        Returns:
            True when taken; False when busy (not taken, nothing owed).
        """
        ...

    def poll(self) -> list[Verdict]:
        """The verdicts finished since the last call.

        Returns:
            Them, oldest first; empty when none.
        """
        ...


@dataclass
class _Episode:
    last_ts: float
    fired: bool = False


@dataclass
class _Asked:
    """A request in flight, and what its event would say."""

    request: VerifyRequest
    episode: _Episode
    subject: Subject
    details: dict[str, object] = field(default_factory=dict)


class VerifiedViolenceRule:
    """Fed every observation of one camera; raises verified violence events.

    Args:
        config: The violence settings (`verify_every_s`, `min_keypoint_conf`, and the
            pose method's thresholds for the fallback).
        model: The verifier's parameters; None when they could not be read (then the
            pose method decides, `why_no_verifier` saying why).
        verifier: What turns frames into video features; None when this process has
            none (the pose method decides).
        why_no_verifier: The fallback's reason when `model` or `verifier` is None.
    """

    event_type: ClassVar[EventType] = "violence"
    uses_poses: ClassVar[bool] = True

    def __init__(
        self,
        config: ViolenceRuleConfig,
        model: VerifierModel | None,
        verifier: VideoVerifier | None,
        why_no_verifier: str = NO_VERIFIER,
    ) -> None:
        self.config = config
        self.model = model
        self.verifier = verifier if model is not None else None
        self.trigger = ViolenceTrigger(TriggerSettings(min_keypoint_conf=config.min_keypoint_conf))
        self.pose = PoseViolenceRule(config)
        self.evidence = EvidenceLog()  # per closest pair: its last candidate
        self._ring: deque[np.ndarray] = deque(maxlen=RING_FRAMES)
        self._ring_scale = 1.0
        self._ring_size: tuple[int, int] | None = None
        self._asked: _Asked | None = None
        self._asked_ts = -math.inf  # the last submission, Unix seconds
        self._episode = _Episode(last_ts=-math.inf)
        # a pose-rule event raised while the verifier was in charge, and its episode
        self._held: tuple[_Episode, list[DetectedEvent]] = (self._episode, [])
        self._down = "" if self.verifier is not None else why_no_verifier

    @property
    def active(self) -> bool:
        """Whether the rule runs (enabled in the settings)."""
        return self.config.enabled

    @property
    def fallback_reason(self) -> str:
        """Why the pose method decides now; "" while the verifier does (or the rule is off)."""
        return self._down if self.active else ""

    def source_cut(self) -> None:
        """Start the ring and the trigger again: the source was reopened.

        After a file looped or a stream came back, the ring and the trigger's history
        would span the cut, and a window across it shows a jump that the video network
        reads as sudden motion. A verdict already asked for is still judged (its window
        lies before the cut).
        """
        self._ring.clear()
        self.trigger = ViolenceTrigger(self.trigger.settings)
        self.pose = PoseViolenceRule(self.config)  # its speeds, too, would span the cut

    def observe(self, observation: Observation) -> list[DetectedEvent]:
        """Keep the frame, judge finished verdicts, and look for a new candidate.

        Args:
            observation: The frame, its time and the people just found.

        Returns:
            The violence events raised on this frame (at most one per episode).
        """
        if not self.active:
            return []
        self._keep(observation.frame)
        events = self._judge(observation.ts)
        fallback: list[DetectedEvent] = []
        if observation.fresh is not None:
            fallback = self.pose.update(observation.fresh, observation.ts)
            candidate = self.trigger.update(observation.fresh, observation.ts)
            if candidate is not None:
                self._on_candidate(candidate, observation.fresh)
        if not self._down:
            if fallback and not self._episode.fired:
                # the pose rule raises once per fight; should the verdict on this episode
                # come back as an error, its event is still owed
                self._held = (self._episode, fallback)
            return events
        return events + self._fall_back(fallback)

    def _fall_back(self, fallback: list[DetectedEvent]) -> list[DetectedEvent]:
        """The pose rule's events while the verifier is down, the one held back first."""
        episode, held = self._held
        self._held = (self._episode, [])
        if episode is self._episode and not episode.fired:
            fallback = held + fallback
        for event in fallback:
            event.details["verifier"] = f"unavailable: {self._down}"
            self._episode.fired = True  # a verdict coming back must not raise it again
        return fallback

    def evidence_ts(self, subject: Subject) -> float | None:
        """When a pair (or one sharing a person) was last a candidate, or fought by the pose rule.

        Args:
            subject: The pair of track ids, smaller first; `()` for an event without one.

        Returns:
            The last evidence's time, Unix seconds; None when none is remembered.
        """
        times = [
            t
            for t in (
                self.evidence.last(subject, shared_person=True),
                self.pose.evidence.last(subject, shared_person=True),
            )
            if t is not None
        ]
        return max(times) if times else None

    # the ring -------------------------------------------------------------------------
    def _keep(self, frame: np.ndarray) -> None:
        height, width = frame.shape[:2]
        kept, self._ring_size, self._ring_scale = ring_sizes(width, height)
        if kept != (width, height):
            small = cv2.resize(frame, kept, interpolation=cv2.INTER_AREA)
        else:
            small = frame.copy()  # the caller's frame may be reused; the ring's may not
        if self._ring and self._ring[-1].shape != small.shape:
            self._ring.clear()  # the camera came back at another size
        self._ring.append(small)

    # candidates -----------------------------------------------------------------------
    def _on_candidate(self, candidate: Candidate, poses: Poses) -> None:
        pair = self.trigger.scene.closest_pair
        subject: Subject = (min(pair), max(pair)) if pair is not None else ()
        self.evidence.saw(subject, candidate.ts)
        if candidate.ts - self._episode.last_ts > EPISODE_GAP_S:
            self._episode = _Episode(last_ts=candidate.ts)
        self._episode.last_ts = candidate.ts
        # a fired episode asks nothing more, unless the verifier is down: then a verdict is
        # how the camera learns it is back (it raises nothing in a fired episode)
        if (self._episode.fired and not self._down) or not self._may_ask(candidate.ts):
            return
        request = VerifyRequest(candidate, list(self._ring), self._ring_scale, self._ring_size)
        assert self.verifier is not None  # _may_ask
        if self.verifier.submit(request):
            details = _pair_details(poses, pair)
            self._asked = _Asked(request, self._episode, subject, details)
            self._asked_ts = candidate.ts

    def _may_ask(self, ts: float) -> bool:
        return (
            self.verifier is not None
            and self._asked is None
            and ts - self._asked_ts >= self.config.verify_every_s
            and len(self._ring) >= MIN_RING_FRAMES
        )

    # verdicts -------------------------------------------------------------------------
    def _judge(self, ts: float) -> list[DetectedEvent]:
        if self.verifier is None:
            return []
        events = []
        for verdict in self.verifier.poll():
            asked = self._asked
            if asked is None or verdict.request is not asked.request:
                continue  # given up on already (VERDICT_LIMIT_S)
            self._asked = None
            event = self._verdict_event(verdict, asked, ts)
            if event is not None:
                events.append(event)
        if self._asked is not None and ts - self._asked_ts > VERDICT_LIMIT_S:
            self._asked = None
            self._down = f"the verifier gave no verdict in {VERDICT_LIMIT_S:.0f} s"
        return events

    def _verdict_event(self, verdict: Verdict, asked: _Asked, ts: float) -> DetectedEvent | None:
        video = verdict.video
        if verdict.error or video is None or video.shape != (VIDEO_FEATURES,):
            shape = None if video is None else video.shape
            self._down = verdict.error or f"the verifier sent video features of shape {shape}"
            return None
        self._down = ""
        if self._held[0] is asked.episode:
            self._held = (self._episode, [])  # the verifier decided that episode
        assert self.model is not None  # a verifier is only kept with a model
        candidate = asked.request.candidate
        score = self.model.score(video, candidate.pose_features)
        if score < self.model.threshold or asked.episode.fired:
            return None
        asked.episode.fired = True
        return DetectedEvent(
            event_type="violence",
            ts=ts,
            confidence=score,
            bbox_xyxy=candidate.box,
            subject=asked.subject,
            details={
                **asked.details,
                "method": "verified",
                "score": round(score, 3),
                "trigger": candidate.reason,
                "candidate_ts": candidate.ts,
            },
        )


def _pair_details(poses: Poses, pair: tuple[int, int] | None) -> dict[str, object]:
    """The tracks and boxes every violence event carries (`violence_event.pair_event`)."""
    if pair is None:
        return {}
    keys = person_keys(poses)
    if not set(pair) <= set(keys):
        return {"tracks": list(pair)}
    rows = [keys.index(key) for key in pair]
    return {
        "tracks": list(pair),
        "boxes": [[round(float(v), 1) for v in poses.xyxy[row]] for row in rows],
    }
