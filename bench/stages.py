"""CPU cost of each stage of a camera's loop, timed one stage at a time on real frames.

Costs are CPU milliseconds per call (`time.process_time`, so decoder threads count),
turned into CPU seconds per camera per second of video with the rate each design
calls the stage at.
"""

from __future__ import annotations

import itertools
import pickle
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench import baseline
from bench.footage import SOURCE_FPS
from bench.product import DETECT_TARGET_FPS as SAMPLED_FPS
from bench.product import MODEL, MODELS_CACHE
from cashwatch.config import CameraSettings, ClipConfig, ManagerConfig, ModelConfig
from cashwatch.config.detection import MotionConfig
from cashwatch.core.poses import Poses
from cashwatch.detect.clips import sampled_frames
from cashwatch.detect.motion import MotionGate
from cashwatch.evidence.buffer import JpegBuffer

SEED_LIVE_FPS = SOURCE_FPS / 4  # the seed design queues every 4th frame for the live view
LIVE_FPS = SOURCE_FPS / ManagerConfig().live_every_n  # CashWatch's default


def read_frames(video: Path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    frames: list[np.ndarray] = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def decode_ms(video: Path, count: int) -> float:
    """CPU ms to read and decode one 720p frame with OpenCV, as both designs do."""
    capture = cv2.VideoCapture(str(video))
    capture.read()  # opening and the first keyframe are not per-frame costs
    started = time.process_time()
    decoded = 0
    for _ in range(count):
        ok, _frame = capture.read()
        if not ok:
            break
        decoded += 1
    capture.release()
    return (time.process_time() - started) * 1000.0 / max(1, decoded)


def cpu_ms(call: Callable[[np.ndarray], Any], frames: list[np.ndarray]) -> float:
    started = time.process_time()
    for frame in frames:
        call(frame)
    return (time.process_time() - started) * 1000.0 / len(frames)


class _TimedModel:
    """The pose model with the CPU time of its calls added up."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.name, self.imgsz, self.any_size = model.name, model.imgsz, model.any_size
        self.cpu_s = 0.0

    def predict(self, frame_bgr: np.ndarray, imgsz: int | None = None) -> Poses:
        started = time.process_time()
        try:
            return self._model.predict(frame_bgr, imgsz)  # type: ignore[no-any-return]
        finally:
            self.cpu_s += time.process_time() - started


def gated_inference(video: Path, sampled: int) -> dict[str, float]:
    """The model's CPU ms per sampled frame behind the motion gate (with its crops), from
    CashWatch's own pipeline on the footage, plus the shares of looks and of crops."""
    from cashwatch.detect.backends import load_pose_model
    from cashwatch.detect.pipeline import DetectionProcessor

    model = _TimedModel(load_pose_model(ModelConfig(**MODEL), MODELS_CACHE.parent))
    processor = DetectionProcessor(
        CameraSettings.model_validate({"detection": {"fps": SAMPLED_FPS}}), model
    )
    frames = list(itertools.islice(sampled_frames(video, SAMPLED_FPS), sampled))
    model.predict(frames[0][0])  # the runtime's first call allocates; not a per-frame cost
    model.cpu_s = 0.0
    for frame, ts in frames:
        processor.process(frame, ts)
    counters = processor.counters
    return {
        "ms_per_sampled_frame": model.cpu_s * 1000.0 / len(frames),
        "looked_fraction": counters.inferred / len(frames),
        "crop_fraction": counters.cropped / max(1, counters.inferred),
    }


def stage_costs(
    video: Path, frames_count: int, inference_ms: dict[str, float], gated: dict[str, float]
) -> dict[str, dict[str, float]]:
    """`{design: {stage: cpu_s_per_camera_s}}` for baseline, gating_off and gating_on.

    `inference_ms` holds "torch" (the seed design) and "cashwatch" (its auto backend) ms
    per frame at 640 px, one thread;
    `gated` is `gated_inference()` on the same footage.
    """
    frames = read_frames(video, frames_count)
    if not frames:
        raise ValueError(f"no frames could be read from {video}")
    clip = ClipConfig()
    buffer = JpegBuffer(
        keep_s=clip.pre_seconds, fps=clip.fps, jpeg_quality=clip.jpeg_quality, max_bytes=10**12
    )
    gate = MotionGate(MotionConfig())
    ms = {
        "decode": decode_ms(video, frames_count),
        "gate": cpu_ms(gate.update, frames),
        "jpeg_buffer": cpu_ms(lambda f: buffer.encode(f, 0.0), frames),
        "raw_copy": cpu_ms(lambda f: f.copy(), frames),
        "live_slot": cpu_ms(lambda f: np.copyto(np.empty_like(f), f), frames),
        "live_queue": cpu_ms(lambda f: pickle.loads(pickle.dumps((f, 0.0), protocol=-1)), frames),
    }
    decode = ms["decode"] * SOURCE_FPS / 1000.0
    cashwatch_common = {
        "decode": decode,
        "clip_buffer": ms["jpeg_buffer"] * clip.fps / 1000.0,
        "live_view": ms["live_slot"] * LIVE_FPS / 1000.0,
    }
    ov = inference_ms.get("cashwatch", 0.0)
    out = {
        "baseline": {
            "decode": decode,
            "clip_buffer": ms["raw_copy"] * SOURCE_FPS / baseline.BUFFER_EVERY / 1000.0,
            "live_view": ms["live_queue"] * SEED_LIVE_FPS / 1000.0,
            "inference": inference_ms.get("torch", 0.0) * baseline.DETECT_TARGET_FPS / 1000.0,
        },
        "gating_off": dict(cashwatch_common, inference=ov * SAMPLED_FPS / 1000.0),
        "gating_on": dict(
            cashwatch_common,
            gating=ms["gate"] * SAMPLED_FPS / 1000.0,
            inference=gated["ms_per_sampled_frame"] * SAMPLED_FPS / 1000.0,
        ),
    }
    for costs in out.values():
        costs["total_of_stages"] = sum(costs.values())
    out["ms_per_call"] = ms
    return out
