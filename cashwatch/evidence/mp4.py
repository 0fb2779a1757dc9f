"""Encoding buffered JPEG frames into a browser-playable MP4.

H.264 in yuv420p with the index (moov) at the front plays in Chromium and `st.video`;
OpenCV's pip wheels cannot write H.264, PyAV's bundled FFmpeg can (docs: FACTS.md).
Frames carry their real capture times as pts, so a clip lasts as long as what it
shows even when the camera dropped or repeated frames.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from cashwatch.evidence.buffer import BufferedFrame

PTS_TIME_BASE = Fraction(1, 1000)   # milliseconds
# superfast, not veryfast: a clip is encoded on the core its camera's detector uses. On
# 720p walking footage (one thread) veryfast costs 24.4 ms of CPU a frame, superfast 15.7
# ms and ultrafast 8.7 ms, for 4, 8 and 14 KiB a frame: a 30 s clip at 10 fps is still
# only ~2.4 MB at superfast, while ultrafast's lack of B-frames and CABAC shows as blocks.
X264_OPTIONS = {"crf": "23", "preset": "superfast"}


@dataclass(frozen=True)
class ClipStats:
    frames: int
    duration_s: float
    encode_s: float
    size_bytes: int


def _decode(entry: BufferedFrame) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(entry.jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"buffered frame at {entry.ts:.3f} is not a readable JPEG")
    return image


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Crop to even size (yuv420p needs it) or resize after a mid-clip resolution change."""
    if image.shape[1] == width and image.shape[0] == height:
        return image
    if image.shape[1] in (width, width + 1) and image.shape[0] in (height, height + 1):
        return image[:height, :width]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# The clip's own note of where its trigger frame is, for players that start there: the
# pre-roll can be shorter than configured, and the post-roll setting can change later.
TRIGGER_TAG = "cashwatch trigger_offset_s="


def trigger_offset_of(path: Path) -> float | None:
    """Seconds from the clip's start to its trigger frame, as written; None if untold."""
    import av

    with av.open(str(path)) as container:
        comment = str(container.metadata.get("comment", ""))
    if not comment.startswith(TRIGGER_TAG):
        return None
    try:
        return float(comment.removeprefix(TRIGGER_TAG))
    except ValueError:
        return None


def _encode(frames: Sequence[BufferedFrame], target: Path, fps: float,
            trigger_ts: float | None = None) -> int:
    # Imported on the first clip, not with the worker: PyAV and its codec libraries are
    # ~16 MiB of every camera worker's memory, and most cameras go hours without an event.
    import av

    first = _decode(frames[0])
    height, width = first.shape[0] // 2 * 2, first.shape[1] // 2 * 2
    t0 = frames[0].ts
    last_pts = -1
    with av.open(str(target), mode="w", format="mp4",
                 options={"movflags": "+faststart"}) as container:
        if trigger_ts is not None:
            container.metadata["comment"] = f"{TRIGGER_TAG}{max(0.0, trigger_ts - t0):.3f}"
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001),
                                      options=X264_OPTIONS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = PTS_TIME_BASE
        # One thread: the worker is pinned to one core shared with its detector.
        stream.codec_context.thread_count = 1
        for index, entry in enumerate(frames):
            image = first if index == 0 else _decode(entry)
            frame = av.VideoFrame.from_ndarray(_fit(image, width, height), format="bgr24")
            # Strictly increasing pts, as the encoder requires, even for equal timestamps.
            last_pts = max(round((entry.ts - t0) * 1000), last_pts + 1)
            frame.pts, frame.time_base = last_pts, PTS_TIME_BASE
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return last_pts


def write_clip(frames: Sequence[BufferedFrame], path: Path, fps: float,
               trigger_ts: float | None = None) -> ClipStats:
    """Encode `frames` (time order) to `path` via a temp file and a rename.

    A crash or a full disk leaves no half-written clip under the final name.
    """
    if not frames:
        raise ValueError(f"no frames were recorded for {path.name}")
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        last_pts = _encode(frames, tmp, fps, trigger_ts)
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ClipStats(frames=len(frames), duration_s=last_pts / 1000 + 1.0 / fps,
                     encode_s=time.perf_counter() - started, size_bytes=path.stat().st_size)
