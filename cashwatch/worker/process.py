"""A camera worker process: reading thread + processing loop + status publishing.

Runs in its own process (spawn), one per camera, pinned to a core by the manager.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
from functools import partial
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np

from cashwatch.config import CameraConfig, ModelConfig
from cashwatch.core.events import DetectedEvent, EventRecord, new_event_id
from cashwatch.core.hooks import EventSink, EvidenceRecorder, FrameProcessor, NullProcessor
from cashwatch.core.sampling import detection_stride
from cashwatch.core.spans import EndedSpan
from cashwatch.evidence.storage import EvidenceStore
from cashwatch.shm.frames import FrameSlot
from cashwatch.shm.status import StatusTable, WorkerStatus
from cashwatch.util.redact import mask_and_cut, mask_credentials
from cashwatch.worker.mailbox import SampleMailbox
from cashwatch.worker.memory import TRIM_EVERY_S, release_free_heap
from cashwatch.worker.publish import FrameSink, SerialFrameSink, StatusSink
from cashwatch.worker.reader import FrameReader
from cashwatch.worker.spec import WorkerSpec
from cashwatch.worker.stats import WorkerStats

if TYPE_CHECKING:
    from cashwatch.inference.fire_client import RemoteFireConfirmer
    from cashwatch.inference.video_client import RemoteVideoVerifier

log = logging.getLogger("cashwatch.worker")
STATUS_EVERY_S = 0.5
# A reader blocked far longer than its own read timeout means OpenCV is stuck in a
# call we cannot interrupt; exiting lets the manager start a fresh process.
STUCK_READER_FACTOR = 4.0
EXIT_STUCK = 3
# What multiprocessing gives an uncaught exception, kept now that the worker catches it
# (the manager books it as a crash, with the exit note as its reason).
EXIT_CRASHED = 1
# The camera's status while its model's service does not answer (restarting, late)
DETECTION_WAITING = "detection waiting for the inference service"
DETECTION_DISABLED = "detection disabled"


def build_processor(spec: WorkerSpec, camera: CameraConfig, model: ModelConfig) -> FrameProcessor:
    """The camera's detection; its pose model and fire model in the shared services when
    the manager runs them (the worker then loads no runtime), else loaded here."""
    if not camera.detection.any_rule_enabled:  # spares the worker the pipeline imports
        return NullProcessor()
    from cashwatch.detect.pipeline import build_processor as build_detection

    data_dir = Path(spec.data_dir)
    if not (spec.inference_sockets and camera.detection.needs_inference):
        return build_detection(camera, model, data_dir)
    from cashwatch.detect.pipeline import DetectionProcessor
    from cashwatch.inference.client import RemotePoseModel

    remote = None
    if camera.detection.needs_pose_model:
        remote = RemotePoseModel(
            [Path(path) for path in spec.inference_sockets],
            spec.input_slot,
            model.request_timeout_s,
            fallback_name=f"{Path(model.weights).stem}@service",
            why_down=partial(service_error, data_dir),
        )
    try:
        verifier = video_verifier(spec, camera, model)
    except Exception:  # e.g. its slot is gone: the rule's pose fallback decides and says so
        log.exception("camera %s: the violence verifier could not be set up", camera.id)
        verifier = None
    return DetectionProcessor(camera, remote, fire_confirmer(spec, camera, model), verifier)


def fire_confirmer(
    spec: WorkerSpec, camera: CameraConfig, model: ModelConfig
) -> RemoteFireConfirmer | None:
    """The camera's fire model in the service that hosts fire models; None without one.

    Raises:
        FileNotFoundError: When the configured weights do not exist: said at the start,
            as with a model in the worker, rather than on the first fire.
    """
    weights = camera.detection.fire_model
    if weights is None:
        return None
    from cashwatch.detect.fire_model import check_fire_weights, fire_model_path
    from cashwatch.inference.fire_client import RemoteFireConfirmer
    from cashwatch.inference.protocol import FIRE_SERVICE

    data_dir = Path(spec.data_dir)
    path = fire_model_path(weights, data_dir)
    check_fire_weights(path)
    return RemoteFireConfirmer(
        Path(spec.inference_sockets[FIRE_SERVICE]),
        spec.input_slot,
        path,
        model.request_timeout_s,
        why_down=partial(service_error, data_dir, FIRE_SERVICE),
    )


def video_verifier(
    spec: WorkerSpec, camera: CameraConfig, model: ModelConfig
) -> RemoteVideoVerifier | None:
    """The violence verifier in the first shared service, when the camera has a video slot.

    None without one (per-camera models, Ray actors): the rule's pose fallback decides and
    says so. Its thread is a daemon that ends with this process, like the pose model's
    connections.
    """
    if not (spec.video_slot and camera.detection.uses_video_verifier):
        return None
    from cashwatch.inference.protocol import VIDEO_SERVICE
    from cashwatch.inference.video_client import RemoteVideoVerifier

    return RemoteVideoVerifier(
        Path(spec.inference_sockets[VIDEO_SERVICE]),
        spec.video_slot,
        model.verifier_timeout_s,
        why_down=partial(service_error, Path(spec.data_dir), VIDEO_SERVICE),
    )


def service_error(data_dir: Path, index: int) -> str:
    """What the manager says of shared service `index` (why it is down), or ""."""
    from cashwatch.shm.services import ServiceTable

    try:
        table = ServiceTable.attach(data_dir)
    except FileNotFoundError:
        return ""
    try:
        return table.read(index).supervision.error
    finally:
        table.close()


class OpenTamper(NamedTuple):
    """The open tamper event, said in the camera's status until it ends."""

    event_id: str
    reason: str
    since_ts: float


class CameraWorker:
    """Owns the reader, the processing hook, evidence and the status record."""

    def __init__(
        self, spec: WorkerSpec, stop: threading.Event, status: StatusSink, frames: FrameSink
    ) -> None:
        from cashwatch.evidence.recorder import ClipRecorder
        from cashwatch.store.journal import JournalWriter

        self.spec = spec
        self.camera = CameraConfig.model_validate(spec.camera)
        self.model = ModelConfig.model_validate(spec.model)
        self.data_dir = Path(spec.data_dir)
        self.stop = stop
        self.status = status
        # The reading thread writes frames and the main loop boxes: one owner serialises them.
        self.frames = SerialFrameSink(frames)
        # One owner of the status record, too: the reading thread publishes a state change
        # at once and the main loop every STATUS_EVERY_S; they take turns under this lock,
        # since the record's sequence lock assumes one writer at a time (interleaved, its
        # counter can be even mid-write and a reader would take a torn record). A lock
        # rather than a hand-over to the main loop: a state change shows as promptly as
        # before, even while the main loop is busy with a slow inference.
        self._status_lock = threading.Lock()
        self.journal_error = ""  # records held after a full disk (main loop only)
        self.stats = WorkerStats()
        self.state = "starting"
        self.error: str | None = None  # the source's problem, cleared once frames flow
        self.detection_error = ""  # why detection is off, for as long as it is
        self.degraded = ""  # why a rule runs in a reduced mode (ProcessResult.degraded)
        self._samples = SampleMailbox()
        self._stride = 1
        self.journal = JournalWriter(self.data_dir, self.camera.id)
        self.sink: EventSink = self.journal
        self.store = EvidenceStore(self.data_dir, spec.storage_url)
        self.recorder: EvidenceRecorder = ClipRecorder(
            self.camera, self.data_dir, self.sink, self.store
        )
        self.processor: FrameProcessor = NullProcessor()
        # span id → id of the event whose end is still to come
        self._open_events: dict[int, str] = {}
        # one attribute, replaced whole, because the reading thread publishes status too
        self._tampered: OpenTamper | None = None
        self.reader = FrameReader(self.camera, self._on_frame, self._on_state, stop)
        # the first frame's time of the source's latest session (written by the reading
        # thread), and the cut the processing thread has told the rules about
        self._sessions_put = 0
        self._cut_ts = -math.inf
        self._cut_done_ts = -math.inf

    # reading thread ---------------------------------------------------------------
    def _on_state(self, state: str, error: str | None) -> None:
        self.state = state
        if error is not None or state == "running":
            self.error = mask_credentials(error) if error else None
        self._write_status()

    def _on_frame(self, frame: np.ndarray, ts: float) -> None:
        if self.reader.sessions != self._sessions_put:  # the first frame after a reopen
            self._sessions_put = self.reader.sessions
            self._cut_ts = ts
        stats = self.stats
        stats.frames_read += 1
        stats.camera_rate.tick(ts)
        stats.last_frame_ts = ts
        stats.height, stats.width = frame.shape[:2]
        self.recorder.add_frame(frame, ts)
        if stats.frames_read % self.spec.live_every_n == 0:
            self.frames.write(frame, stats.frames_read, ts)
        if stats.frames_read % self._stride == 0:
            dropped = self._samples.put(frame, ts)  # never waits for processing
            stats.skipped_busy += int(dropped)

    # processing loop --------------------------------------------------------------
    def _take(self, timeout_s: float) -> tuple[np.ndarray, float] | None:
        return self._samples.take(timeout_s)

    def _update_stride(self) -> None:
        fps = self.stats.camera_rate.rate or self.reader.source_fps
        if fps > 0:
            self._stride = detection_stride(fps, self.camera.detection.fps)

    def _retry_journal(self) -> str:
        """Write records a full disk refused; says how many are still held in memory."""
        if self.journal.pending_count and self.journal.flush_pending():
            log.info("journal of %s written again after a disk error", self.camera.id)
        held = self.journal.pending_count
        return (
            (f"{held} journal record(s) held in memory: the disk refuses writes (full?); retrying")
            if held
            else ""
        )

    def _publish(self) -> None:
        # Without a periodic retry, records held after a full disk would wait for the
        # next event, which may never come before the worker stops. Main loop only: the
        # journal is the main loop's.
        self.journal_error = self._retry_journal()
        self._write_status()

    def _write_status(self) -> None:
        with self._status_lock:  # composed inside: the later write has the later state
            self.status.write_worker(self.spec.slot, self._status_record())

    def _status_record(self) -> WorkerStatus:
        tamper = self._tampered
        return dataclasses.replace(
            self.stats.as_status(),
            run_id=self.spec.run_id,
            state=self.state,
            heartbeat_ts=time.time(),
            reconnects=self.reader.reconnects,
            source_error=self.error or "",
            tamper_reason=tamper.reason if tamper else "",
            tamper_since_ts=tamper.since_ts if tamper else 0.0,
            journal_error=self.journal_error,
            detection_error="; ".join(e for e in (self.detection_error, self.degraded) if e),
        )

    def _handle_event(self, detected: DetectedEvent, height: int, width: int) -> None:
        from cashwatch.evidence.snapshots import save_snapshot

        event_id = new_event_id(detected.ts)
        x1, y1, x2, y2 = detected.bbox_xyxy
        details = dict(detected.details, frame_wh=[width, height])
        snapshot_path = None
        if detected.snapshot_jpeg:
            try:
                relpath = save_snapshot(
                    self.data_dir, self.camera.id, event_id, detected.ts, detected.snapshot_jpeg
                )
                snapshot_path = self.store.publish(self.data_dir / relpath, relpath)
            except Exception as exc:  # the event matters more than its picture (any store)
                details["snapshot_error"] = f"{type(exc).__name__}: {exc}"
        record = EventRecord(
            event_id=event_id,
            camera_id=self.camera.id,
            site=self.camera.site,
            # ended_at: unknown until the behaviour stops (an event_end record follows)
            event_type=detected.event_type,
            started_at=detected.ts,
            ended_at=None,
            confidence=round(float(detected.confidence), 4),
            bbox=[
                round(x1 / width, 4),
                round(y1 / height, 4),
                round(x2 / width, 4),
                round(y2 / height, 4),
            ],
            details=details,
            model=self.processor.model_name,
            snapshot_path=snapshot_path,
        )
        self.sink.emit_event(record)  # durable before anything else can fail
        if detected.span_id is not None:
            self._open_events[detected.span_id] = event_id
            if detected.event_type == "tamper":  # said on the camera's card until it ends
                since = float(detected.details.get("since", detected.ts))
                self._tampered = OpenTamper(event_id, str(detected.details.get("reason")), since)
        # an event that goes on until its span ends is followed by its clip (end_clip)
        self.recorder.request_clip(record, follow=detected.span_id is not None)
        self.stats.events_detected += 1
        log.info(
            "event %s %s on %s (confidence %.2f)",
            event_id,
            record.event_type,
            self.camera.id,
            record.confidence,
        )

    def _process(self, frame: np.ndarray, ts: float) -> None:
        if ts >= self._cut_ts > self._cut_done_ts:
            # the first sample read after the source was reopened (a file looped, a stream
            # came back): what rules keep of recent frames would span the cut. Samples
            # still queued from before the cut (ts < _cut_ts) are processed as before it.
            self._cut_done_ts = self._cut_ts
            self.processor.source_cut()
        result = self.processor.process(frame, ts)
        self.stats.frames_processed += 1
        self.stats.process_rate.tick(ts)
        if result.ran_inference:
            self.stats.detection_rate.tick(ts)
            self.stats.add_inference(result.inference_ms)
            if self.detection_error.startswith(DETECTION_WAITING):
                self.detection_error = ""
        elif result.skipped_reason == "motion":
            self.stats.skipped_motion += 1
        elif result.model_error:  # shown until the model looks again
            self.detection_error = f"{DETECTION_WAITING}: {result.model_error}"
        self._note_degraded(result.degraded)
        if result.customers:
            self.stats.customer_seen_ts = ts
        if result.boxes is not None:
            self.frames.write_boxes(result.boxes, ts)
        self._record_ends(result.ended)  # first: a new event may end one about the same people
        height, width = frame.shape[:2]
        for detected in result.events:
            self._handle_event(detected, height, width)

    def _note_degraded(self, degraded: str) -> None:
        """Show a reduced mode in the status while it lasts; log when it starts and ends.

        Only the changes are logged: the violence verifier down for an hour must not
        write a line per sampled frame, and its reason's wording may vary between
        verdicts (the status shows the latest).
        """
        if bool(degraded) != bool(self.degraded):
            if degraded:
                log.warning("camera %s: %s", self.camera.id, degraded)
            else:
                log.info(
                    "camera %s: detection back in full (was: %s)", self.camera.id, self.degraded
                )
        self.degraded = degraded

    def _record_ends(self, ended: list[EndedSpan]) -> None:
        for span in ended:
            event_id = self._open_events.pop(span.span_id, None)
            if event_id is not None:
                self.sink.emit_end(event_id, span.ended_at)
                self.recorder.end_clip(event_id, span.ended_at)
                if self._tampered and self._tampered.event_id == event_id:
                    self._tampered = None

    def _manager_gone(self) -> bool:
        # manager_pid 0: a Ray actor, whose parent is Ray's raylet; Ray ends the actor
        # when its owner, the manager, is gone.
        return self.spec.manager_pid != 0 and os.getppid() != self.spec.manager_pid

    def _reader_stuck(self) -> bool:
        limit = STUCK_READER_FACTOR * (self.camera.read_timeout_s + self.camera.open_timeout_s)
        return time.monotonic() - self.reader.last_progress > limit

    def run(self) -> int:
        self._publish()
        try:
            self.processor = build_processor(self.spec, self.camera, self.model)
        except Exception as exc:  # keep the camera live; say why detection is off
            log.exception("detection unavailable on %s", self.camera.id)
            self.detection_error = f"{DETECTION_DISABLED}: {type(exc).__name__}: {exc}"
        self.reader.start()
        next_status = 0.0
        next_trim = time.monotonic() + TRIM_EVERY_S
        exit_code = 0
        while not self.stop.is_set():
            item = self._take(timeout_s=STATUS_EVERY_S)
            if item is not None:
                self._process(*item)
            else:  # no frames (a camera gone dark): time still ends events and clips
                if self._open_events:
                    self._record_ends(self.processor.end_quiet(time.time()))
                self.recorder.tick(time.time())
            if time.monotonic() >= next_trim:
                next_trim = time.monotonic() + TRIM_EVERY_S
                release_free_heap()
            if time.monotonic() >= next_status:
                next_status = time.monotonic() + STATUS_EVERY_S
                self._update_stride()
                self._publish()
                if self._manager_gone():
                    log.warning(
                        "manager %d is gone; %s exits", self.spec.manager_pid, self.camera.id
                    )
                    break
                if self._reader_stuck():
                    self.error = "reading is stuck inside OpenCV; restarting the worker"
                    self._publish()
                    exit_code = EXIT_STUCK
                    break
        return exit_code

    def close(self, flush_clips: bool) -> None:
        self.stop.set()
        self._record_ends(self.processor.end_all())
        if flush_clips:
            self.recorder.close()
        self.processor.close()
        self.sink.close()


def _watch_stop_event(mp_stop: MpEvent, stop: threading.Event) -> None:
    while not stop.is_set():
        if mp_stop.wait(0.25):
            stop.set()


class ExitNoteWriter(Protocol):
    def send(self, obj: object) -> None: ...

    def close(self) -> None: ...


EXIT_NOTE_CHARS = 400  # the reason goes in a 512-byte status field with its prefix


def exception_summary(exc: BaseException) -> str:
    """The exception's last line (`FileNotFoundError: [Errno 2] …`), masked and short.

    >>> exception_summary(ValueError("cannot open rtsp://u:pw@cam/live"))
    'ValueError: cannot open rtsp://u:***@cam/live'
    """
    last_line = traceback.format_exception_only(exc)[-1].strip()
    return mask_and_cut(last_line, EXIT_NOTE_CHARS)


def leave_exit_note(note: ExitNoteWriter | None, reason: str) -> None:
    """Tell the manager why this worker exits non-zero, before it exits; the manager
    logs it with the exit code and shows it in the camera's status."""
    if note is None or not reason:
        return
    try:
        note.send(mask_and_cut(reason, EXIT_NOTE_CHARS))
        note.close()
    except OSError:  # the manager is gone: nobody to tell
        pass


def run_worker_process(
    spec: WorkerSpec, mp_stop: MpEvent, exit_note: ExitNoteWriter | None = None
) -> None:
    """The camera's run in a process set up by `worker_main` (cashwatch.worker.base).
    `exit_note`: where a non-zero exit leaves its reason for the manager (the write end
    of a pipe), which logs it with the exit code and shows it in the camera's status."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the manager, which stops us
    # A file-size limit (ulimit -f) must fail the write with EFBIG, as a full disk fails it
    # with ENOSPC, so the journal keeps the record in memory; by default SIGXFSZ kills us.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=_watch_stop_event, args=(mp_stop, stop), daemon=True).start()
    try:
        exit_code, reason = _run_worker(spec, stop)
    except Exception as exc:
        # Not re-raised: multiprocessing would print the traceback to stderr unmasked,
        # and an exception's message may quote the camera's URL with its password.
        log.exception("worker crashed")
        exit_code, reason = EXIT_CRASHED, exception_summary(exc)
    if exit_code:
        leave_exit_note(exit_note, reason)
    log.info("camera %s: worker stopped (exit code %d)", spec.camera.get("id", "?"), exit_code)
    sys.exit(exit_code)


def _run_worker(spec: WorkerSpec, stop: threading.Event) -> tuple[int, str]:
    """Attach to the manager's shared memory and run the camera; (exit code, why)."""
    data_dir = Path(spec.data_dir)
    status = StatusTable.attach(data_dir)
    try:
        frames = FrameSlot.attach(data_dir, spec.slot)
    except BaseException:
        status.close()
        raise
    try:
        worker = CameraWorker(spec, stop, status, frames)
        try:
            exit_code = worker.run()
            reason = worker.error or ""
        finally:
            worker.close(flush_clips=not worker._manager_gone())
            del worker  # its numpy views of the segments must go before they close
    finally:
        frames.close()
        status.close()
    return exit_code, reason
