"""Counters a worker publishes to its status record."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from cashwatch.shm.status import WorkerStatus
from cashwatch.worker.capture import RateMeter


@dataclass
class WorkerStats:
    frames_read: int = 0
    frames_processed: int = 0
    skipped_busy: int = 0  # sampled frames dropped because processing was still busy
    skipped_motion: int = 0  # sampled frames where the motion gate spared the model
    events_detected: int = 0
    inference_ms: float = 0.0
    last_frame_ts: float = 0.0
    customer_seen_ts: float = 0.0  # the last processed frame with a customer in view
    width: int = 0
    height: int = 0
    camera_rate: RateMeter = field(default_factory=RateMeter)
    process_rate: RateMeter = field(default_factory=RateMeter)
    detection_rate: RateMeter = field(default_factory=RateMeter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_inference(self, ms: float) -> None:
        self.inference_ms = ms if self.inference_ms == 0 else 0.9 * self.inference_ms + 0.1 * ms

    def as_status(self) -> WorkerStatus:
        """The counters as a worker record; the worker adds its state and troubles."""
        now = time.time()
        return WorkerStatus(
            frames_read=self.frames_read,
            frames_processed=self.frames_processed,
            frames_skipped=self.skipped_busy + self.skipped_motion,
            skipped_busy=self.skipped_busy,
            skipped_motion=self.skipped_motion,
            events_detected=self.events_detected,
            camera_fps=self.camera_rate.decayed(now),
            process_fps=self.process_rate.decayed(now),
            detection_fps=self.detection_rate.decayed(now),
            inference_ms=self.inference_ms,
            last_frame_ts=self.last_frame_ts,
            customer_seen_ts=self.customer_seen_ts,
            width=self.width,
            height=self.height,
        )
