"""The reading thread: keeps a source open, reconnecting with back-off, and hands
every frame to a callback. It never waits on processing."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from cashwatch.config import CameraConfig
from cashwatch.config.camera import source_kind
from cashwatch.util.backoff import Backoff
from cashwatch.worker.capture import (
    Pacer,
    SourceError,
    VideoSource,
    frame_ok,
    nominal_fps,
    open_source,
)

log = logging.getLogger(__name__)

STALL_FRACTION = 0.8  # of the read timeout: a read this slow means the stream hung
# Retries of a source that is down are cheap (a refused connect, a failed DNS lookup, a
# stat), so the back-off stays short: a camera that comes back is read again within
# RETRY_MAX_S plus the time to open it, not after a long sleep.
RETRY_INITIAL_S = 0.5
RETRY_MAX_S = 5.0
# Up to a quarter off each retry delay, at random: cameras that lost one recorder or
# switch together spread their reconnects instead of hitting it in lockstep.
RETRY_JITTER = 0.25

OnFrame = Callable[[np.ndarray, float], None]
OnState = Callable[[str, str | None], None]


class FrameReader(threading.Thread):
    """Reads `camera.source` until `stop` is set.

    States reported through `on_state`: connecting, running, reconnecting (a stream
    that worked and broke, for as long as it stays down) and error (a source that has
    never opened), each with the cause. File sources loop at their end without a
    reconnect.
    """

    def __init__(
        self, camera: CameraConfig, on_frame: OnFrame, on_state: OnState, stop: threading.Event
    ) -> None:
        super().__init__(name=f"reader:{camera.id}", daemon=True)
        self.camera = camera
        self._on_frame = on_frame
        self.sessions = 0  # opened sources that gave a frame (see _read_until_broken)
        self._on_state = on_state
        self._stop_event = stop
        self._kind = source_kind(camera.source)
        self._live = self._kind in ("rtsp", "http")
        self._backoff = Backoff(initial_s=RETRY_INITIAL_S, max_s=RETRY_MAX_S, jitter=RETRY_JITTER)
        self.reconnects = 0
        self.last_progress = time.monotonic()  # moves on every read attempt, even a failed one
        self.source_fps = 0.0
        self._has_run = False  # once a source delivered frames, outages are "reconnecting"
        # when the source last stopped giving frames: an outage is logged once when it
        # starts and once when it ends, not at every retry (a dead camera retries for days)
        self._outage_since: float | None = None

    def run(self) -> None:
        looped = False  # a file that ended is reopened at once: it stays "running"
        while not self._stop_event.is_set():
            self.last_progress = time.monotonic()
            # a broken stream keeps its cause on screen while it is retried; a looping
            # file is not an outage (status read during its reopen said "reconnecting")
            if not looped:
                self._on_state("reconnecting" if self._has_run else "connecting", None)
            try:
                capture = open_source(
                    self.camera.source,
                    open_timeout_s=self.camera.open_timeout_s,
                    read_timeout_s=self.camera.read_timeout_s,
                )
            except SourceError as exc:
                looped = False
                self._wait_before_retry(f"{exc}; retrying in")
                continue
            try:
                problem = self._read_until_broken(capture)
            finally:
                capture.release()
            looped = problem is None
            if problem is None or self._stop_event.is_set():
                continue  # a file ended: loop it without counting a reconnect
            self.reconnects += 1
            self._wait_before_retry(f"{problem}; reconnecting in")

    def _wait_before_retry(self, cause: str) -> None:
        delay = round(self._backoff.next_delay(), 2)  # shown: "retrying in 0.43 s"
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning("camera %s: %s %g s", self.camera.id, cause, delay)
        else:
            log.debug("camera %s: %s %g s", self.camera.id, cause, delay)
        self._on_state("reconnecting" if self._has_run else "error", f"{cause} {delay:g} s")
        # A deliberate wait is progress: the worker's stuck-reader check must not take a
        # long back-off for a read hung inside OpenCV.
        self.last_progress = time.monotonic() + delay
        self._stop_event.wait(delay)

    def _log_reading(self) -> None:
        if self._outage_since is None:
            log.info("camera %s: reading (%s fps)", self.camera.id, f"{self.source_fps:.3g}")
        else:
            log.info(
                "camera %s: reading again after %.0f s without frames (%d reconnects)",
                self.camera.id,
                time.monotonic() - self._outage_since,
                self.reconnects,
            )
        self._outage_since = None

    def _read_until_broken(self, capture: VideoSource) -> str | None:
        """Read until the source fails; returns the cause, or None at a file's end."""
        self.source_fps = nominal_fps(capture)
        pacer = (
            Pacer(self.source_fps) if self._kind in ("file", "demo") and self.camera.pace else None
        )
        frames = 0
        timeout_s = self.camera.read_timeout_s
        while not self._stop_event.is_set():
            if pacer is not None:
                pacer.wait()
            before = time.monotonic()
            ok, frame = capture.read()
            self.last_progress = time.monotonic()
            if self._live and self.last_progress - before >= STALL_FRACTION * timeout_s:
                # a hung server makes FFmpeg wait the full read timeout and then hand
                # back a stale buffered frame; the stall itself is the signal
                return f"the stream stalled for {self.last_progress - before:.1f} s"
            if not ok or not frame_ok(frame):
                if self._kind == "file" and frames > 0:
                    return None
                if self._kind == "file":
                    return "the file has no readable frames"
                return (
                    f"no frame from the source (ended, or silent for "
                    f"{self.camera.read_timeout_s:g} s)"
                )
            if frames == 0:
                # a new session: this frame does not follow the last one (a file looped,
                # a stream reconnected); read by the worker to tell the rules
                self.sessions += 1
                if not self._has_run or self._outage_since is not None:
                    self._log_reading()  # a looping file restarts quietly
                self._has_run = True
                self._on_state("running", None)
                self._backoff.reset()
            frames += 1
            self._on_frame(frame, time.time())
        return None
