"""The seams between the camera worker's loop and what plugs into it.

The worker owns reading, pacing, reconnecting, status and live frames. It calls:

* a `FrameProcessor` on sampled frames (detection: model, gate, tracker, rules);
* an `EvidenceRecorder` with every frame it reads (pre-event buffer, clips);
* an `EventSink` with every finished event (the durable journal to the manager).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from cashwatch.core.events import DetectedEvent, EventRecord
from cashwatch.core.spans import EndedSpan


@dataclass
class ProcessResult:
    """What one call of the processing hook did.

    `skipped_reason` is set (e.g. "motion") when the frame was looked at but the
    model did not run; `boxes` are normalised [x1, y1, x2, y2, conf, label] rows
    for the live overlay (label 0 = person); `ended` are earlier events whose
    behaviour has stopped (see `cashwatch.core.spans`).
    """

    ran_inference: bool
    inference_ms: float = 0.0
    skipped_reason: str | None = None
    events: list[DetectedEvent] = field(default_factory=list)
    boxes: np.ndarray | None = None
    ended: list[EndedSpan] = field(default_factory=list)


class FrameProcessor(Protocol):
    model_name: str

    def process(self, frame: np.ndarray, ts: float) -> ProcessResult: ...

    def end_quiet(self, now: float) -> list[EndedSpan]:
        """The events whose behaviour has not been seen for a while by `now` (called
        while no frames come: a camera that went dark ends them too)."""

    def end_all(self) -> list[EndedSpan]:
        """The events still going on, ended at their last evidence (the camera stops)."""

    def close(self) -> None: ...


class EvidenceRecorder(Protocol):
    def add_frame(self, frame: np.ndarray, ts: float) -> None:
        """Called from the reading thread for every frame; must return quickly."""

    def request_clip(self, record: EventRecord, follow: bool = False) -> str:
        """Start a clip around `record.started_at`; returns its planned relative path.

        With `follow`, the clip goes on until `end_clip`. Completion (or failure) is
        reported later through the EventSink as a clip update for `record.event_id`.
        """

    def end_clip(self, event_id: str, ended_at: float) -> None:
        """The event was last seen at `ended_at`: finish its clip post-roll later."""

    def tick(self, now_ts: float) -> None:
        """Time passes without frames: finish clips due by now."""

    def close(self) -> None:
        """Finish pending clips with what has been recorded so far."""


class EventSink(Protocol):
    def emit_event(self, record: EventRecord) -> None:
        """Durably record a new event (fsync) before returning; never raises."""

    def emit_clip(self, event_id: str, clip_path: str | None, error: str | None) -> None:
        """Durably record that an event's clip is complete, or why it failed."""

    def emit_end(self, event_id: str, ended_at: float) -> None:
        """Record when an event's behaviour stopped (its row's `ended_at`)."""

    def close(self) -> None: ...


class NullProcessor:
    """Used when a camera has every rule switched off: frames are only counted."""

    model_name = "none"

    def process(self, frame: np.ndarray, ts: float) -> ProcessResult:
        return ProcessResult(ran_inference=False, skipped_reason="disabled")

    def end_quiet(self, now: float) -> list[EndedSpan]:
        return []

    def end_all(self) -> list[EndedSpan]:
        return []

    def close(self) -> None:
        return None
