"""Clips around events: the worker's `EvidenceRecorder`.

The reading thread hands every frame to `add_frame`, which only JPEG-encodes the
frames the buffer keeps (10 per second by default, ~2.5 ms each at 720p) and appends
references to the clips still being recorded. A clip runs from `pre_seconds` before its
trigger to `post_seconds` after it; a clip requested with `follow=True` runs until the
worker says when the event ended (`end_clip`) and `post_seconds` more, up to
`max_seconds` in all (never less than pre + post).
Its frames go to a background thread a second at a time once they are `SETTLE_S` old (a
trigger frame reported late can still be put in its place until then), which streams
them to the clip's encoder process (`encoder_process`: the worker never loads PyAV) as
they come: a five-minute incident costs the worker no more memory than a short one,
and a slow disk or encoder never holds up reading. While the encoder
is behind by more than the buffer's memory cap, the frames a followed clip records past
its trigger's post-roll are dropped rather than queued (logged); the pre- and post-roll
around the trigger never are. The clip is reported through the `EventSink` when its last
frame is written. Overlapping clips share the same JPEG bytes.
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
from cashwatch.core.events import EventRecord
from cashwatch.core.hooks import EventSink
from cashwatch.evidence.buffer import JpegBuffer
from cashwatch.evidence.encoder_process import ClipEncoderProcess
from cashwatch.evidence.frame import BufferedFrame
from cashwatch.evidence.paths import clip_relpath
from cashwatch.evidence.storage import EvidenceStore

log = logging.getLogger(__name__)

PRE_MARGIN_S = 2.0  # kept beyond pre_seconds, so a late clip request still has it all
RECENT_FRAMES = 64  # how far back a trigger frame can be found (see _trigger_entry)
ENCODER_NICENESS = 5  # clip encoding yields to reading and detection
# A frame this much older than the newest one is final in every clip: a trigger frame
# is found among the last RECENT_FRAMES frames (~4 s at 15 fps) or not at all.
SETTLE_S = 5.0
CHUNK_S = 1.0  # frames go to the encoder about this much at a time


@dataclass
class PendingClip:
    """A clip still being recorded: the frames not yet handed to the encoder."""

    event_id: str
    relpath: str
    trigger_ts: float
    end_ts: float
    limit_ts: float  # end_ts never passes it (max_seconds)
    frames: list[BufferedFrame] = field(default_factory=list)
    sent_until: float = float("-inf")  # frames up to here went to the encoder
    dropped_frames: int = 0  # not encoded: the encoder was too far behind

    def add(self, entry: BufferedFrame) -> None:
        """Insert in time order (a trigger frame can arrive after later frames)."""
        if entry.ts <= self.sent_until:
            return  # already encoded past it: the frame is only a duplicate of its time
        index = len(self.frames)
        while index > 0 and self.frames[index - 1].ts > entry.ts:
            index -= 1
        if index == 0 or self.frames[index - 1].ts != entry.ts:
            self.frames.insert(index, entry)

    def covers(self, ts: float) -> bool:
        """Whether a frame at `ts` belongs in this clip and can still be put in."""
        begun = self.sent_until > float("-inf") or (bool(self.frames) and self.frames[0].ts <= ts)
        return begun and self.sent_until < ts <= self.end_ts

    def settled(self, now_ts: float) -> list[BufferedFrame]:
        """Take the frames that can no longer change, when there is a chunk's worth."""
        if not self.frames or self.frames[0].ts > now_ts - SETTLE_S - CHUNK_S:
            return []
        cut = 0
        while cut < len(self.frames) and self.frames[cut].ts <= now_ts - SETTLE_S:
            cut += 1
        chunk, self.frames = self.frames[:cut], self.frames[cut:]
        if chunk:
            self.sent_until = chunk[-1].ts
        return chunk


@dataclass(frozen=True)
class _Chunk:
    clip: PendingClip
    frames: list[BufferedFrame]
    last: bool  # the clip is complete after these frames


class ClipRecorder:
    """Pre-event buffer plus clip writing for one camera.

    Frames come in on the reading thread, clip requests on the main thread:

    >>> recorder = ClipRecorder(camera, data_dir, journal)     # doctest: +SKIP
    >>> recorder.add_frame(frame, ts)  # doctest: +SKIP
    >>> recorder.request_clip(record)  # doctest: +SKIP
    'clips/2025-01-31/cam1/0194....mp4'
    >>> recorder.request_clip(record, follow=True)  # until end_clip  # doctest: +SKIP
    >>> recorder.end_clip(record.event_id, ended_at)  # doctest: +SKIP
    """

    def __init__(
        self,
        camera: CameraConfig,
        data_dir: Path,
        sink: EventSink,
        store: EvidenceStore | None = None,
    ) -> None:
        clip = camera.clip
        self.camera_id = camera.id
        self.pre_s = clip.pre_seconds
        self.post_s = clip.post_seconds
        self.max_s = clip.max_seconds
        self.fps = clip.fps
        self.buffer = JpegBuffer(
            keep_s=clip.pre_seconds + PRE_MARGIN_S,
            fps=clip.fps,
            jpeg_quality=clip.jpeg_quality,
            max_bytes=int(clip.buffer_max_mb * 1e6),
        )
        self._lock = threading.Lock()
        self._pending: list[PendingClip] = []
        # Weak references only: a frame the worker still holds (the one being analysed)
        # can become the trigger frame; all others are freed as usual, never kept raw.
        self._recent: deque[tuple[float, weakref.ref[np.ndarray]]] = deque(maxlen=RECENT_FRAMES)
        self._last_ts: float | None = None
        self._writer = ClipWriter(
            Path(data_dir), sink, self.fps, store or EvidenceStore(Path(data_dir))
        )
        # JPEGs waiting for the encoder, at most: as much again as the pre-event buffer
        self.max_queued_bytes = int(clip.buffer_max_mb * 1e6)
        self._closed = False
        self.skipped_frames = 0

    @property
    def buffer_bytes(self) -> int:
        return self.buffer.nbytes

    def collecting(self) -> tuple[PendingClip, ...]:
        """Clips still being recorded (their frame lists share entries)."""
        with self._lock:
            return tuple(self._pending)

    @property
    def pending_clips(self) -> int:
        """Clips still being recorded or waiting for the encoder."""
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
            # queued under the lock: chunks of one clip, taken by two threads, stay in order
            self._writer.submit(self._take_chunks(ts))

    def request_clip(self, record: EventRecord, follow: bool = False) -> str:
        """A clip around `record.started_at`; with `follow`, recorded until `end_clip` (the
        event goes on), else `post_seconds` past the trigger."""
        if self._closed:
            raise RuntimeError(f"clip recorder of camera {self.camera_id!r} is closed")
        trigger_ts = record.started_at
        relpath = clip_relpath(self.camera_id, record.event_id, trigger_ts)
        trigger = self._trigger_entry(trigger_ts)
        limit_ts = trigger_ts + max(self.post_s, self.max_s - self.pre_s)
        # followed: open until end_clip, set before any chunk is taken (a short post-roll
        # would otherwise end it right here, before the worker could say it goes on)
        clip = PendingClip(
            record.event_id,
            relpath,
            trigger_ts,
            end_ts=limit_ts if follow else trigger_ts + self.post_s,
            limit_ts=limit_ts,
        )
        with self._lock:
            if trigger is not None:
                self.buffer.insert(trigger)
                for other in self._pending:
                    if other.covers(trigger.ts):
                        other.add(trigger)
            clip.frames = self.buffer.between(trigger_ts - self.pre_s, clip.end_ts)
            if trigger is not None:
                clip.add(trigger)
            self._pending.append(clip)
            self._writer.submit(self._take_chunks(self._last_ts))
        return relpath

    def end_clip(self, event_id: str, ended_at: float) -> None:
        """The event was last seen at `ended_at`: its clip stops `post_seconds` later (never
        before the trigger's own post-roll)."""
        with self._lock:
            for clip in self._pending:
                if clip.event_id == event_id:
                    clip.end_ts = min(clip.limit_ts, max(clip.trigger_ts, ended_at) + self.post_s)

    def tick(self, now_ts: float) -> None:
        """Time passes without frames (a camera gone dark): clips due by now are finished
        with what they have."""
        with self._lock:
            self._writer.submit(self._take_chunks(now_ts))

    def close(self, timeout_s: float | None = 60.0) -> None:
        """Encode every pending clip with what was recorded, then stop the encoder thread."""
        with self._lock:
            self._closed = True
            finished, self._pending = self._pending, []
            self._writer.submit([_Chunk(clip, clip.frames, last=True) for clip in finished])
        self._writer.close(timeout_s)

    def _encode_or_skip(self, frame: np.ndarray, ts: float) -> BufferedFrame | None:
        # A frame OpenCV cannot encode (empty after a glitch) must not stop the reader.
        try:
            return self.buffer.encode(frame, ts)
        except (cv2.error, ValueError) as exc:
            self.skipped_frames += 1
            if self.skipped_frames == 1 or self.skipped_frames % 1000 == 0:
                log.warning(
                    "camera %s: cannot buffer frame %s (%s); %d skipped so far",
                    self.camera_id,
                    getattr(frame, "shape", None),
                    exc,
                    self.skipped_frames,
                )
            return None

    def _take_chunks(self, now_ts: float | None) -> list[_Chunk]:
        """Finished clips whole, and the settled frames of the others (under the lock)."""
        if now_ts is None:
            return []
        chunks, still = [], []
        for clip in self._pending:
            if now_ts >= clip.end_ts:
                chunks.append(_Chunk(clip, clip.frames, last=True))
                clip.frames = []
            else:
                still.append(clip)
                settled = clip.settled(now_ts)
                if settled and self._writer.queued_bytes > self.max_queued_bytes:
                    settled = self._drop_following(clip, settled)
                if settled:
                    chunks.append(_Chunk(clip, settled, last=False))
        self._pending = still
        return chunks

    def _drop_following(
        self, clip: PendingClip, frames: list[BufferedFrame]
    ) -> list[BufferedFrame]:
        """The encoder is far behind (a saturated core): to keep memory bounded, a followed
        clip loses what it records past the trigger's post-roll; the seconds around the
        trigger are always kept. Returns the frames to encode."""
        kept = [entry for entry in frames if entry.ts <= clip.trigger_ts + self.post_s]
        dropped = len(frames) - len(kept)
        if dropped and not clip.dropped_frames:
            log.warning(
                "camera %s: the clip encoder is %.0f MB behind; clip %s loses frames "
                "past its post-roll",
                self.camera_id,
                self._writer.queued_bytes / 1e6,
                clip.relpath,
            )
        clip.dropped_frames += dropped
        return kept

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
    """A background thread encoding clips chunk by chunk, in the order they come."""

    def __init__(self, data_dir: Path, sink: EventSink, fps: float, store: EvidenceStore) -> None:
        self.data_dir = data_dir
        self.sink = sink
        self.store = store
        self.fps = fps
        self._queue: queue.Queue[_Chunk | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        # writer thread only: the clips being written, and those that failed part-way
        self._open: dict[str, ClipEncoderProcess] = {}
        self._failed: dict[str, str] = {}
        self._bytes_lock = threading.Lock()
        self.queued_bytes = 0  # JPEG bytes submitted and not yet encoded

    @property
    def backlog(self) -> int:
        """Clips whose last chunk waits for the encoder."""
        with self._queue.mutex:
            return sum(1 for chunk in self._queue.queue if chunk is not None and chunk.last)

    def submit(self, chunks: list[_Chunk]) -> None:
        if not chunks:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="clip-writer", daemon=True)
                self._thread.start()
        with self._bytes_lock:
            self.queued_bytes += sum(len(e.jpeg) for chunk in chunks for e in chunk.frames)
        for chunk in chunks:
            self._queue.put(chunk)

    def close(self, timeout_s: float | None) -> None:
        with self._start_lock:
            thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join(timeout_s)
        if thread.is_alive():
            log.error(
                "clip writer still busy after %s s; %d clip(s) unfinished", timeout_s, self.backlog
            )

    def _run(self) -> None:
        _lower_thread_priority()
        while (chunk := self._queue.get()) is not None:
            self._write(chunk)
        for encoder in self._open.values():  # only after a chunk was lost: never finished
            encoder.abort()

    def _write(self, chunk: _Chunk) -> None:
        try:
            self._encode(chunk)
        finally:
            with self._bytes_lock:
                self.queued_bytes -= sum(len(e.jpeg) for e in chunk.frames)

    def _encode(self, chunk: _Chunk) -> None:
        clip = chunk.clip
        if clip.relpath not in self._failed:
            try:
                encoder = self._open.get(clip.relpath)
                if encoder is None:
                    encoder = self._open[clip.relpath] = ClipEncoderProcess(
                        self.data_dir / clip.relpath, self.fps, trigger_ts=clip.trigger_ts
                    )
                encoder.add(chunk.frames)
            except Exception as exc:  # any failure is reported at the end, the worker goes on
                self._open.pop(clip.relpath, None)  # add() stopped its child on any failure
                self._failed[clip.relpath] = f"{type(exc).__name__}: {exc}"
        if chunk.last:
            self._finish(clip)

    def _finish(self, clip: PendingClip) -> None:
        encoder = self._open.pop(clip.relpath, None)
        error = self._failed.pop(clip.relpath, None)
        if error is None:
            try:
                if encoder is None:
                    raise ValueError(f"no frames were recorded for {Path(clip.relpath).name}")
                stats = encoder.finish()
                stored = self.store.publish(self.data_dir / clip.relpath, clip.relpath)
            except Exception as exc:  # any failure is reported, the worker goes on
                error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            log.error("clip %s failed: %s", clip.relpath, error)
            self.sink.emit_clip(clip.event_id, None, error)
            return
        log.info(
            "clip %s: %d frames, %.1f s, encoded in %.2f s%s",
            clip.relpath,
            stats.frames,
            stats.duration_s,
            stats.encode_s,
            f"; {clip.dropped_frames} frames dropped" if clip.dropped_frames else "",
        )
        self.sink.emit_clip(clip.event_id, stored, None)


def _lower_thread_priority() -> None:
    # On Linux a thread id is accepted by setpriority, lowering only this thread.
    try:
        tid = threading.get_native_id()
        os.setpriority(
            os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + ENCODER_NICENESS
        )
    except OSError:
        pass
