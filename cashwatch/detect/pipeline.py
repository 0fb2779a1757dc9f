"""One camera's detection: motion gate → pose model → tracker → rules → events.

The worker (and `cashwatch eval`) hands `process` only the sampled frames. Fire and tamper
need no pose, so they look at every sampled frame (tamper at most once a second); the
pose model runs only for the cash and violence rules, and only when the gate sees a
change since the model last looked, or when someone in view has not been looked at for
`motion.refresh_s`. It then looks at a crop around the change and those people when that
is small (`regions`), else at the whole frame. Whoever it did not look at has not moved,
so the cash rule gets their last poses again at the new time (the violence rule, which
measures speed, only fresh ones).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cashwatch.config.camera import CameraConfig, CameraSettings
from cashwatch.config.detection import ModelConfig
from cashwatch.core.event_types import event_type
from cashwatch.core.events import DetectedEvent
from cashwatch.core.geometry import optional_zone
from cashwatch.core.hooks import FrameProcessor, NullProcessor, ProcessResult
from cashwatch.core.observation import Observation
from cashwatch.core.poses import Poses
from cashwatch.core.rule import CutAware, Rule
from cashwatch.core.spans import END_AFTER_QUIET_S, EndedSpan, EventSpans
from cashwatch.detect.annotate import annotated_snapshot
from cashwatch.detect.model import ModelUnavailable, PoseModel
from cashwatch.detect.motion import MotionGate
from cashwatch.detect.regions import (
    Region,
    choose_region,
    crop_imgsz,
    cut_by_edge,
    overlaps,
    union_box,
)
from cashwatch.detect.tracker import IouTracker
from cashwatch.rules.cooldown import Cooldown
from cashwatch.rules.customers import customers_in_view
from cashwatch.rules.fire import FireConfirmer
from cashwatch.rules.registry import camera_rules
from cashwatch.rules.violence import ViolenceRule
from cashwatch.rules.violence_verified import VideoVerifier

# Crops only re-examine where something changed, so someone the model missed while they
# stood still would stay missed; a look due after this long is a whole-frame one.
WHOLE_FRAME_EVERY_S = 10.0


@dataclass
class ProcessorCounters:
    """Frame-level counts since the processor started (the worker keeps its own too).

    Attributes:
        frames: Sampled frames processed.
        inferred: Of those, the frames the pose model ran on.
        skipped_motion: Frames the motion gate spared the model.
        cropped: Inferences on a crop around the change, not the whole frame.
        events: Events raised after the cooldown.
        suppressed_by_cooldown: Events the cooldown held back.
        inference_ms_total: The pose model's time, milliseconds in all.
    """

    frames: int = 0
    inferred: int = 0
    skipped_motion: int = 0
    cropped: int = 0
    events: int = 0
    suppressed_by_cooldown: int = 0
    inference_ms_total: float = 0.0


class DetectionProcessor:
    """A `FrameProcessor` for one camera around an already loaded pose model.

    Args:
        camera: the camera's settings (rules, zones, cooldown).
        model: the pose model, or None when neither cash nor violence is enabled.
        fire_confirmer: optional second opinion for the fire rule.
        violence_verifier: what turns a violence candidate's frames into video features
            (the verified method; it belongs to the caller); None: the pose method
            decides in its place, and every result's `degraded` says so.

    Raises:
        ValueError: When a rule that needs poses is enabled and `model` is None.
    """

    def __init__(
        self,
        camera: CameraSettings,
        model: PoseModel | None,
        fire_confirmer: FireConfirmer | None = None,
        violence_verifier: VideoVerifier | None = None,
    ) -> None:
        detection = camera.detection
        self.camera = camera
        # a camera on a till counts its customers (`cashwatch eval` replays settings only)
        self._on_till = isinstance(camera, CameraConfig) and camera.till_id is not None
        self._cashier = optional_zone(camera.zones.cashier)  # made once, not per frame
        # quiet means a few sampled frames without evidence, also at a low detection rate
        self.spans = EventSpans(quiet_s=max(END_AFTER_QUIET_S, 3.0 / detection.fps))
        # by event type, in the registry's order (the order a frame's events are listed)
        self.rules: dict[str, Rule] = {
            rule.event_type: rule
            for rule in camera_rules(camera, fire_confirmer, self.spans.quiet_s, violence_verifier)
        }
        needs_poses = any(rule.active and rule.uses_poses for rule in self.rules.values())
        if needs_poses and model is None:
            raise ValueError("the cash and violence rules need a pose model; got None")
        self.model = model if needs_poses else None
        # the fire and tamper rules read pixels; a camera running only them has no model
        self._model_name = model.name if model is not None else "none"
        self.gate = (
            MotionGate(detection.motion, camera.zones)
            if detection.motion.enabled and self.model is not None
            else None
        )
        self.tracker = IouTracker()
        self.cooldown = Cooldown(camera.cooldown_s)
        self.counters = ProcessorCounters()
        self._in_view: Poses | None = None  # the people in view (fresh or carried), or None
        self._looked_at: dict[int, float] = {}  # track id → when the model last saw them
        self._whole_frame_ts = float("-inf")  # the last look at the whole frame

    @property
    def model_name(self) -> str:
        """The pose model's name, as stored with events.

        A shared service's model says its name once the service has answered.
        """
        return self.model.name if self.model is not None else self._model_name

    @property
    def degraded(self) -> str:
        """Why a rule runs in a reduced mode now, for the camera's status; "" when none does.

        Today only the verified violence method has one: its pose fallback while the
        video verifier is unavailable.
        """
        rule = self.rules.get("violence")
        reason = rule.fallback_reason if isinstance(rule, ViolenceRule) else ""
        if not reason:
            return ""
        return f"violence verifier unavailable ({reason}): the pose rule decides meanwhile"

    @property
    def _use_regions(self) -> bool:
        """Whether the model may look at crops.

        Only one that runs any input size may; a shared service's model says so once the
        service has answered.
        """
        return (
            self.gate is not None
            and self.camera.detection.motion.regions
            and self.model is not None
            and self.model.any_size
        )

    def source_cut(self) -> None:
        """The next frame does not follow the last one: rules that keep frames drop them."""
        for rule in self.rules.values():
            if isinstance(rule, CutAware):
                rule.source_cut()

    def process(self, frame: np.ndarray, ts: float) -> ProcessResult:
        """Run the gate, perhaps the model and tracker, and every rule on a sampled frame.

        Args:
            frame: The HxWx3 uint8 BGR frame.
            ts: The frame's time, Unix seconds (seconds from the start in `cashwatch eval`).

        Returns:
            Whether the model ran (and for how long), the events raised after the
            cooldown (each with the annotated snapshot), the live overlay's boxes and the
            events that ended.
        """
        self.counters.frames += 1
        moved = self.gate.update(frame) if self.gate is not None else True
        poses: Poses | None = self._in_view  # nobody looked: the same people, still
        fresh: Poses | None = None
        inference_ms = 0.0
        look, region = self._plan(moved, frame.shape, ts)
        model_error = ""
        if look:
            started = time.perf_counter()
            try:
                poses, fresh = self._look(frame, region, ts)
            except ModelUnavailable as exc:  # the rules go on with whom they had; next frame
                look, model_error = False, str(exc)  # the gate still sees the change
            inference_ms = (time.perf_counter() - started) * 1000.0 if look else 0.0
            self.counters.inference_ms_total += inference_ms
        observation = Observation(ts, frame, poses, fresh)
        events = [event for rule in self.rules.values() for event in rule.observe(observation)]
        events = self._after_cooldown(events, ts)
        ended = self._follow_spans(events, ts)
        if events:
            snapshot = annotated_snapshot(frame, events, poses, self.camera.zones)
            for event in events:
                event.snapshot_jpeg = snapshot
        skipped = None
        if model_error:
            skipped = "model unavailable"
        elif not look and self.model is not None:
            skipped = "motion"
            self.counters.skipped_motion += 1
        return ProcessResult(
            ran_inference=look,
            inference_ms=inference_ms,
            skipped_reason=skipped,
            model_error=model_error,
            events=events,
            boxes=overlay_boxes(poses, frame.shape[:2]),
            ended=ended,
            degraded=self.degraded,
            customers=self._customers(poses, frame.shape),
        )

    def _customers(self, poses: Poses | None, frame_shape: tuple[int, ...]) -> int:
        """Customers in view, for a camera on a till (the manager judges its refunds)."""
        if not self._on_till:
            return 0  # nobody asks: the hot path of other cameras stays as it was
        height, width = frame_shape[:2]
        min_conf = self.camera.detection.cash.min_keypoint_conf
        return customers_in_view(poses, self._cashier, (width, height), min_conf)

    def end_quiet(self, now: float) -> list[EndedSpan]:
        """End the events whose evidence stopped a while ago (no frames come).

        Args:
            now: The current time, Unix seconds.

        Returns:
            The events ended by `now`; empty when none was quiet long enough.
        """
        return self.spans.due(now)

    def end_all(self) -> list[EndedSpan]:
        """End every open event at its last evidence (the camera stops).

        Returns:
            The events that were open; empty when none was.
        """
        return self.spans.end_all()

    def close(self) -> None:
        """Nothing to release: the pose model belongs to the caller."""
        return None

    def _follow_spans(self, raised: list[DetectedEvent], ts: float) -> list[EndedSpan]:
        """End the quiet events, extend the others, and follow the events just raised.

        The open events are extended by their subjects' evidence.
        """
        ended = self.spans.due(ts)  # first: a gap in processing is quiet, whatever comes now
        for span_id, span in self.spans.items():
            self.spans.evidence(span_id, self.rules[span.event_type].evidence_ts(span.subject))
        for event in raised:
            event.span_id, replaced = self.spans.open(event.event_type, event.subject, event.ts)
            ended += replaced
        return ended

    def _plan(
        self,
        moved: bool,
        frame_shape: tuple[int, ...],
        ts: float,
    ) -> tuple[bool, Region | None]:
        """Whether the model looks, and at which crop (None: the whole frame).

        It looks when something changed since it last looked, or when someone in view has
        not been looked at for refresh_s.
        """
        if self.model is None:
            return False, None
        people = self._in_view.xyxy if self._in_view is not None else np.zeros((0, 4))
        due = self._due(ts)
        if not moved and not due.any():
            return False, None
        if not self._use_regions or ts - self._whole_frame_ts >= WHOLE_FRAME_EVERY_S:
            return True, None
        assert self.gate is not None
        height, width = frame_shape[:2]
        scale = np.array([width, height, width, height], np.float64)
        boxes = [tuple(box) for box in people[due]]
        if moved:
            if self.gate.changed_box is None:  # nothing to compare with: a first look
                return True, None
            boxes.append(tuple(np.array(self.gate.changed_box) * scale))
        return True, choose_region(union_box(boxes), people, (width, height))

    def _due(self, ts: float) -> np.ndarray:
        """Which people in view the model has not looked at for refresh_s."""
        if self._in_view is None:
            return np.zeros((0,), bool)
        refresh_s = self.camera.detection.motion.refresh_s
        last = [self._looked_at.get(int(i), float("-inf")) for i in self._in_view.track_id]
        return ts - np.array(last, np.float64) >= refresh_s

    def _look(
        self,
        frame: np.ndarray,
        region: Region | None,
        ts: float,
    ) -> tuple[Poses, Poses]:
        """Run the model; return everyone in view (tracked) and the fresh part of them."""
        assert self.model is not None
        height, width = frame.shape[:2]
        found = None
        if region is not None:
            found = self.model.predict(
                region.crop(frame), imgsz=crop_imgsz(region, (width, height), self.model.imgsz)
            )
            found.xyxy = region.to_frame(found.xyxy)
            found.keypoints[..., :2] = region.to_frame(found.keypoints[..., :2])
            if cut_by_edge(found.xyxy, region, (width, height)):
                found, region = None, None  # someone reaches out of the crop: look at all
            else:
                self.counters.cropped += 1
        if found is None:
            found = self.model.predict(frame)
            self._whole_frame_ts = ts
        # People the crop did not reach keep their last poses; whoever it reached is either
        # found again or has left.
        carried = Poses.empty()
        if region is not None and self._in_view is not None:
            area = (region.x1, region.y1, region.x2, region.y2)
            carried = self._in_view.take(~overlaps(self._in_view.xyxy, area))
        everyone = self.tracker.update(Poses.concat(found, carried), ts)
        fresh = everyone.take(slice(0, len(found)))
        if self.gate is not None:
            self.gate.looked()
        self.counters.inferred += 1
        self._in_view = everyone if len(everyone) else None
        self._looked_at = {int(i): self._looked_at.get(int(i), ts) for i in everyone.track_id}
        self._looked_at.update({int(i): ts for i in fresh.track_id})
        return everyone, fresh

    def _after_cooldown(self, events: list[DetectedEvent], ts: float) -> list[DetectedEvent]:
        kept = []
        for event in sorted(events, key=lambda e: -e.confidence):
            # the type table says whether repeats are held back (tamper: one event per
            # episode already, a cooldown would lose the second of two close episodes)
            policy = event_type(event.event_type).cooldown
            if policy == "none" or self.cooldown.allow(event.event_type, ts):
                kept.append(event)
            else:
                self.counters.suppressed_by_cooldown += 1
        self.counters.events += len(kept)
        return kept


def overlay_boxes(poses: Poses | None, frame_hw: tuple[int, ...]) -> np.ndarray | None:
    """The live view's boxes.

    Args:
        poses: The people in view, pixels; None when nobody has been looked for yet.
        frame_hw: The frame's shape; its first two values are height and width, pixels.

    Returns:
        (n, 6) float32 rows of x1, y1, x2, y2 as 0..1 of the frame, confidence and label
        (0 = person); None when `poses` is None.

    >>> p = Poses(np.array([[10, 20, 30, 40]]), [0.9], np.zeros((1, 17, 3)))
    >>> [round(float(v), 2) for v in overlay_boxes(p, (100, 200))[0]]
    [0.05, 0.2, 0.15, 0.4, 0.9, 0.0]
    """
    if poses is None:
        return None
    height, width = frame_hw[:2]
    rows = np.zeros((len(poses), 6), np.float32)
    rows[:, :4] = poses.xyxy / np.array([width, height, width, height], np.float32)
    rows[:, 4] = poses.conf
    return rows


def load_fire_confirmer(camera: CameraSettings, data_dir: Path) -> FireConfirmer | None:
    """The optional YOLO fire model (imports torch: only when a user configured weights).

    Args:
        camera: The camera's settings (`detection.fire`).
        data_dir: What a relative fire model path is relative to.

    Returns:
        The confirmer; None when the fire rule is off or has no model.

    Raises:
        FileNotFoundError: When the configured weights do not exist.
        ValueError: When the model has no fire, flame or smoke class.
    """
    weights = camera.detection.fire_model
    if weights is None:
        return None
    from cashwatch.detect.fire_model import YoloFireConfirmer, fire_model_path

    return YoloFireConfirmer(fire_model_path(weights, data_dir), data_dir)


def build_processor(camera: CameraConfig, model: ModelConfig, data_dir: Path) -> FrameProcessor:
    """The worker's processor for a camera: loads the pose model only when a rule needs it.

    Args:
        camera: The camera's configuration.
        model: The pose model's settings.
        data_dir: CashWatch's data folder (weights, export cache).

    Returns:
        A `NullProcessor` when every rule is off, else a `DetectionProcessor`.
    """
    if not camera.detection.any_rule_enabled:
        return NullProcessor()
    pose_model: PoseModel | None = None
    if camera.detection.needs_pose_model:
        from cashwatch.detect.backends import load_pose_model

        pose_model = load_pose_model(model, data_dir)
    return DetectionProcessor(camera, pose_model, load_fire_confirmer(camera, data_dir))
