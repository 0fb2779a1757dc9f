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
    # why the model could not look ("model unavailable"): its service down or late
    model_error: str = ""
    # why a rule runs in a reduced mode for now (the violence verifier down: the pose
    # rule decides meanwhile); "" when none does
    degraded: str = ""
    events: list[DetectedEvent] = field(default_factory=list)
    boxes: np.ndarray | None = None
    ended: list[EndedSpan] = field(default_factory=list)
    # customers in view on this frame (people outside the cashier zone, see
    # cashwatch.rules.customers); what the manager judges a till's refunds by
    customers: int = 0


class FrameProcessor(Protocol):
    """What the worker calls on each sampled frame (detection and the rules).

    Attributes:
        model_name: The pose model's name as shown on the status page ("none" when no
            model runs); read-only, a shared service's model says it once it answers.
    """

    @property
    def model_name(self) -> str:
        """The pose model's name, stored with every event."""
        ...

    def process(self, frame: np.ndarray, ts: float) -> ProcessResult:
        """Look at one sampled frame.

        Args:
            frame: The HxWx3 uint8 BGR frame as read from the camera.
            ts: The frame's wall-clock time, Unix seconds.

        Returns:
            What ran on the frame, the events it started and those that ended.
        """
        ...

    def source_cut(self) -> None:
        """Say that the next frame does not follow the last one.

        The source was reopened (a file looped, a stream reconnected): rules that keep
        recent frames drop them.
        """
        ...

    def end_quiet(self, now: float) -> list[EndedSpan]:
        """End the events whose behaviour has not been seen for a while.

        Called while no frames come, so that a camera that went dark ends them too.

        Args:
            now: The current wall-clock time, Unix seconds.

        Returns:
            The events ended by `now`; empty when none was quiet long enough.
        """
        ...

    def end_all(self) -> list[EndedSpan]:
        """End every event still going on, at its last evidence (the camera stops).

        Returns:
            The events that were still open; empty when none was.
        """
        ...

    def close(self) -> None:
        """Release the model and any other resources; the processor is not used again."""
        ...


class EvidenceRecorder(Protocol):
    """Keeps the recent frames of one camera and writes event clips from them."""

    def add_frame(self, frame: np.ndarray, ts: float) -> None:
        """Keep one frame; called from the reading thread, so it must return quickly.

        Args:
            frame: The HxWx3 uint8 BGR frame as read.
            ts: The frame's wall-clock time, Unix seconds.
        """

    def request_clip(self, record: EventRecord, follow: bool = False) -> str:
        """Start a clip around `record.started_at`.

        Completion (or failure) is reported later through the EventSink as a clip update
        for `record.event_id`.

        Args:
            record: The event the clip is for.
            follow: Keep recording until `end_clip` instead of a fixed post-roll.

        Returns:
            The clip's planned path, relative to the clips folder.
        """

    def end_clip(self, event_id: str, ended_at: float) -> None:
        """Finish a following clip its post-roll after the event was last seen.

        Args:
            event_id: The event whose clip `request_clip` started with `follow`.
            ended_at: When the event's behaviour was last seen, Unix seconds.
        """

    def tick(self, now_ts: float) -> None:
        """Let time pass without frames: finish the clips due by `now_ts`.

        Args:
            now_ts: The current wall-clock time, Unix seconds.
        """

    def close(self) -> None:
        """Finish pending clips with what has been recorded so far."""


class EventSink(Protocol):
    """Where a worker's finished events go (the durable journal to the manager)."""

    def emit_event(self, record: EventRecord) -> None:
        """Durably record a new event (fsync) before returning; never raises.

        Args:
            record: The event, as it will be stored.
        """

    def emit_clip(self, event_id: str, clip_path: str | None, error: str | None) -> None:
        """Durably record that an event's clip is complete, or why it failed.

        Args:
            event_id: The event the clip belongs to.
            clip_path: The clip's path relative to the clips folder; None when it failed.
            error: Why the clip failed; None when it was written.
        """

    def emit_end(self, event_id: str, ended_at: float) -> None:
        """Record when an event's behaviour stopped (its row's `ended_at`).

        Args:
            event_id: The event that ended.
            ended_at: When its behaviour was last seen, Unix seconds.
        """

    def close(self) -> None:
        """Flush and close the journal; nothing is emitted afterwards."""
        ...


class NullProcessor:
    """Used when a camera has every rule switched off: frames are only counted."""

    model_name = "none"

    def process(self, frame: np.ndarray, ts: float) -> ProcessResult:
        """Count the frame without looking at it.

        Args:
            frame: The frame, unused.
            ts: Its time, unused.

        Returns:
            A result with no inference, skipped as "disabled".
        """
        return ProcessResult(ran_inference=False, skipped_reason="disabled")

    def source_cut(self) -> None:
        """Nothing is kept of earlier frames."""

    def end_quiet(self, now: float) -> list[EndedSpan]:
        """No events are ever open.

        Args:
            now: Unused.

        Returns:
            Always empty.
        """
        return []

    def end_all(self) -> list[EndedSpan]:
        """No events are ever open.

        Returns:
            Always empty.
        """
        return []

    def close(self) -> None:
        """Nothing to release."""
        return None
