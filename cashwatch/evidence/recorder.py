"""Clips around events: the worker's `EvidenceRecorder`.

The reading thread hands every frame to `add_frame`, which only JPEG-encodes the
frames the buffer keeps (10 per second by default, ~2.5 ms each at 720p) and appends
references to the clips still collecting post-roll. A background thread turns a
finished clip into an MP4 and reports it through the `EventSink`, so a slow disk or
encoder never holds up reading. Overlapping clips share the same JPEG bytes.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import weakref
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from cashwatch.config.camera import CameraConfig
from cashwatch.events import EventRecord
from cashwatch.evidence.buffer import BufferedFrame, JpegBuffer
from cashwatch.evidence.mp4 import write_clip
from cashwatch.evidence.paths import clip_relpath
from cashwatch.evidence.storage import EvidenceStore
from cashwatch.worker.hooks import EventSink

log = logging.getLogger(__name__)

PRE_MARGIN_S = 2.0        # kept beyond pre_seconds, so a late clip request still has it all
RECENT_FRAMES = 64        # how far back a trigger frame can be found (see _trigger_entry)
ENCODER_NICENESS = 5      # clip encoding yields to reading and detection


@dataclass
class PendingClip:
    event_id: str
    relpath: str
    end_ts: float
    frames: list[BufferedFrame] = field(default_factory=list)
    trigger_ts: float | None = None

    def add(self, entry: BufferedFrame) -> None:
        """Insert in time order (a trigger frame can arrive after later frames)."""
        index = len(self.frames)
        while index > 0 and self.frames[index - 1].ts > entry.ts:
            index -= 1
        if index == 0 or self.frames[index - 1].ts != entry.ts:
            self.frames.insert(index, entry)


class ClipRecorder:
    """Pre-event buffer plus clip writing for one camera.

    Frames come in on the reading thread, clip requests on the main thread:

    >>> recorder = ClipRecorder(camera, data_dir, journal)     # doctest: +SKIP
    >>> recorder.add_frame(frame, ts)  # doctest: +SKIP
    >>> recorder.request_clip(record)  # doctest: +SKIP
    'clips/2025-01-31/cam1/0194....mp4'
    """

    def __init__(self, camera: CameraConfig, data_dir: Path, sink: EventSink,
                 store: EvidenceStore | None = None) -> None:
        clip = camera.clip
        self.camera_id = camera.id
        self.pre_s = clip.pre_seconds
        self.post_s = clip.post_seconds
        self.fps = clip.fps
        self.buffer = JpegBuffer(keep_s=clip.pre_seconds + PRE_MARGIN_S, fps=clip.fps,
                                 jpeg_quality=clip.jpeg_quality,
                                 max_bytes=int(clip.buffer_max_mb * 1e6))
        self._lock = threading.Lock()
        self._pending: list[PendingClip] = []
        # Weak references only: a frame the worker still holds (the one being analysed)
        # can become the trigger frame; all others are freed as usual, never kept raw.
        self._recent: deque[tuple[float, weakref.ref[np.ndarray]]] = deque(maxlen=RECENT_FRAMES)
        self._last_ts: float | None = None
        self._writer = ClipWriter(Path(data_dir), sink, self.fps,
                                  store or EvidenceStore(Path(data_dir)))
        self._closed = False
        self.skipped_frames = 0

    @property
    def buffer_bytes(self) -> int:
        return self.buffer.nbytes

    def collecting(self) -> tuple[PendingClip, ...]:
        """Clips still waiting for post-roll (their frame lists share entries)."""
        with self._lock:
            return tuple(self._pending)

    @property
    def pending_clips(self) -> int:
        """Clips still collecting post-roll or waiting for the encoder."""
        with self._lock:
            collecting = len(self._pending)
        return collecting + self._writer.backlog

    def add_frame(self, frame: np.ndarray, ts: float) -> None:
        self._recent.append((ts, weakref.ref(frame)))
        entry = self._encode_or_skip(frame, ts) if self.buffer.wants(ts) else None
        if entry is None and not self._pending:
            self._last_ts = ts
            return
        with self._lock:
            self._last_ts = ts
            if entry is not None:
                self.buffer.push(entry)
                for clip in self._pending:
                    clip.frames.append(entry)
            finished = self._take_finished(ts)
        for clip in finished:
            self._writer.submit(clip)

    def request_clip(self, record: EventRecord) -> str:
        if self._closed:
            raise RuntimeError(f"clip recorder of camera {self.camera_id!r} is closed")
        trigger_ts = record.started_at
        relpath = clip_relpath(self.camera_id, record.event_id, trigger_ts)
        trigger = self._trigger_entry(trigger_ts)
        clip = PendingClip(record.event_id, relpath, trigger_ts + self.post_s,
                           trigger_ts=trigger_ts)
        with self._lock:
            if trigger is not None:
                self.buffer.insert(trigger)
                for other in self._pending:
                    if other.frames and other.frames[0].ts <= trigger.ts <= other.end_ts:
                        other.add(trigger)
            clip.frames = self.buffer.between(trigger_ts - self.pre_s, clip.end_ts)
            if trigger is not None:
                clip.add(trigger)
            self._pending.append(clip)
            finished = self._take_finished(self._last_ts)
        for done in finished:
            self._writer.submit(done)
        return relpath

    def close(self, timeout_s: float | None = 60.0) -> None:
        """Encode every pending clip with what was recorded, then stop the encoder thread."""
        with self._lock:
            self._closed = True
            finished, self._pending = self._pending, []
        for clip in finished:
            self._writer.submit(clip)
        self._writer.close(timeout_s)

    def _encode_or_skip(self, frame: np.ndarray, ts: float) -> BufferedFrame | None:
        # A frame OpenCV cannot encode (empty after a glitch) must not stop the reader.
        try:
            return self.buffer.encode(frame, ts)
        except (cv2.error, ValueError) as exc:
            self.skipped_frames += 1
            if self.skipped_frames == 1 or self.skipped_frames % 1000 == 0:
                log.warning("camera %s: cannot buffer frame %s (%s); %d skipped so far",
                            self.camera_id, getattr(frame, "shape", None), exc,
                            self.skipped_frames)
            return None

    def _take_finished(self, now_ts: float | None) -> list[PendingClip]:
        if now_ts is None:
            return []
        finished = [clip for clip in self._pending if now_ts >= clip.end_ts]
        if finished:
            self._pending = [clip for clip in self._pending if now_ts < clip.end_ts]
        return finished

    def _trigger_entry(self, trigger_ts: float) -> BufferedFrame | None:
        """The trigger frame as JPEG, encoding it now if the sampler skipped it.

        The trigger frame is the one the detector analysed; the worker still holds it
        while it reports the event, so its weak reference is alive.
        """
        with self._lock:
            if self.buffer.find(trigger_ts) is not None:
                return None
        # tuple() copies the deque in one C call, safe while the reading thread appends.
        for ts, ref in reversed(tuple(self._recent)):
            if ts == trigger_ts:
                frame = ref()
                return None if frame is None else self.buffer.encode(frame, ts)
        return None


class ClipWriter:
    """A background thread encoding finished clips one at a time, in request order."""

    def __init__(self, data_dir: Path, sink: EventSink, fps: float,
                 store: EvidenceStore) -> None:
        self.data_dir = data_dir
        self.sink = sink
        self.store = store
        self.fps = fps
        self._queue: queue.Queue[PendingClip | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def submit(self, clip: PendingClip) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="clip-writer",
                                                daemon=True)
                self._thread.start()
        self._queue.put(clip)

    def close(self, timeout_s: float | None) -> None:
        with self._start_lock:
            thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join(timeout_s)
        if thread.is_alive():
            log.error("clip writer still busy after %s s; %d clip(s) unfinished",
                      timeout_s, self._queue.qsize())

    def _run(self) -> None:
        _lower_thread_priority()
        while (clip := self._queue.get()) is not None:
            self._write(clip)

    def _write(self, clip: PendingClip) -> None:
        try:
            stats = write_clip(clip.frames, self.data_dir / clip.relpath, self.fps,
                               trigger_ts=clip.trigger_ts)
            stored = self.store.publish(self.data_dir / clip.relpath, clip.relpath)
        except Exception as exc:  # any failure is reported, the worker goes on
            message = f"{type(exc).__name__}: {exc}"
            log.error("clip %s failed: %s", clip.relpath, message)
            self.sink.emit_clip(clip.event_id, None, message)
            return
        log.info("clip %s: %d frames, %.1f s, encoded in %.2f s", clip.relpath, stats.frames,
                 stats.duration_s, stats.encode_s)
        self.sink.emit_clip(clip.event_id, stored, None)


def _lower_thread_priority() -> None:
    # On Linux a thread id is accepted by setpriority, lowering only this thread.
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid)
                       + ENCODER_NICENESS)
    except OSError:
        pass
