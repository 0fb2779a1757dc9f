"""Encoding buffered JPEG frames into a browser-playable MP4.

H.264 in yuv420p with the index (moov) at the front plays in Chromium and `st.video`;
OpenCV's pip wheels cannot write H.264, PyAV's bundled FFmpeg can (docs: FACTS.md).
Frames carry their real capture times as pts, so a clip lasts as long as what it
shows even when the camera dropped or repeated frames.

This module imports only the standard library at the top, PyAV when a clip opens:
camera workers never run it, the clip encoder process does (`encoder_process`), so it
must not pull in OpenCV or numpy either. PyAV's own JPEG decoder hands YUV straight to
the scaler, which is cheaper than OpenCV's decode to BGR and back (2.6 ms against 3.9
ms a 720p frame).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from cashwatch.evidence.frame import BufferedFrame

PTS_TIME_BASE = Fraction(1, 1000)  # milliseconds
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


def temporary_path(path: Path) -> Path:
    """Where a clip is written until it is complete (`ClipEncoder`).

    >>> temporary_path(Path("clips/a.mp4")).name
    '.a.mp4.tmp'
    """
    return path.with_name(f".{path.name}.tmp")


class ClipEncoder:
    """One MP4 written a few frames at a time, so a long clip never sits in memory.

    It is written under a temporary name (`.NAME.tmp`) and renamed by `finish` after an
    fsync: a crash or a full disk leaves no half-written clip under the final name.
    Frames must come in time order; their capture times become the pts.

    >>> encoder = ClipEncoder(path, fps=10.0, trigger_ts=record.started_at)  # doctest: +SKIP
    >>> encoder.add(first_frames); encoder.add(later_frames)  # doctest: +SKIP
    >>> encoder.finish().duration_s  # doctest: +SKIP
    31.2
    """

    def __init__(self, path: Path, fps: float, trigger_ts: float | None = None) -> None:
        self.path = path
        self.fps = fps
        self.trigger_ts = trigger_ts
        self.tmp = temporary_path(path)
        self.frames = 0
        self.encode_s = 0.0
        self._container: Any = None
        self._stream: Any = None
        self._size = (0, 0)
        self._decoder: Any = None
        self._t0 = 0.0
        self._last_pts = -1

    def add(self, entries: Sequence[BufferedFrame]) -> None:
        started = time.perf_counter()
        try:
            for entry in entries:
                image = self._decode(entry)
                if self._container is None:
                    self._open(image, entry.ts)
                self._write(image, entry.ts)
        except BaseException:
            self.abort()
            raise
        finally:
            self.encode_s += time.perf_counter() - started

    def finish(self) -> ClipStats:
        if self._container is None:
            raise ValueError(f"no frames were recorded for {self.path.name}")
        started = time.perf_counter()
        try:
            self._container.mux(self._stream.encode(None))
            self._container.close()
            self._container = None
            _fsync_file(self.tmp)
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self.encode_s += time.perf_counter() - started
        return ClipStats(
            frames=self.frames,
            duration_s=self._last_pts / 1000 + 1.0 / self.fps,
            encode_s=self.encode_s,
            size_bytes=self.path.stat().st_size,
        )

    def abort(self) -> None:
        """Drop what was written (an error, or the worker giving up on the clip)."""
        if self._container is not None:
            container, self._container = self._container, None
            with contextlib.suppress(Exception):  # already failing: the file goes anyway
                container.close()
        with contextlib.suppress(OSError):  # its folder gone or unreadable: nothing to see
            self.tmp.unlink(missing_ok=True)

    def _decode(self, entry: BufferedFrame) -> Any:
        """The frame as a PyAV VideoFrame (YUV, as the JPEG holds it)."""
        import av

        if self._decoder is None:
            self._decoder = av.CodecContext.create("mjpeg", "r")
        try:
            frames = self._decoder.decode(av.Packet(entry.jpeg))
        except av.FFmpegError as exc:
            raise ValueError(
                f"buffered frame at {entry.ts:.3f} is not a readable JPEG: {exc}"
            ) from None
        if not frames:
            raise ValueError(f"buffered frame at {entry.ts:.3f} is not a readable JPEG")
        return frames[0]

    def _open(self, first: Any, t0: float) -> None:
        import av

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._t0 = t0
        # yuv420p needs an even size; a frame of another size later is scaled to it
        self._size = (first.width // 2 * 2, first.height // 2 * 2)
        container = av.open(
            str(self.tmp), mode="w", format="mp4", options={"movflags": "+faststart"}
        )
        self._container = container
        if self.trigger_ts is not None:
            container.metadata["comment"] = f"{TRIGGER_TAG}{max(0.0, self.trigger_ts - t0):.3f}"
        stream = container.add_stream(
            "libx264", rate=Fraction(self.fps).limit_denominator(1001), options=X264_OPTIONS
        )
        stream.width, stream.height = self._size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = PTS_TIME_BASE
        # One thread: the encoder shares its camera's core with the detector.
        stream.codec_context.thread_count = 1
        self._stream = stream

    def _write(self, image: Any, ts: float) -> None:
        width, height = self._size
        # A JPEG's YUV spans 0-255; H.264 players read yuv420p as 16-235. Without the
        # ranges named, black would come out darker and white clipped.
        frame = image.reformat(
            width=width,
            height=height,
            format="yuv420p",
            src_color_range="JPEG",
            dst_color_range="MPEG",
        )
        # Strictly increasing pts, as the encoder requires, even for equal timestamps.
        self._last_pts = max(round((ts - self._t0) * 1000), self._last_pts + 1)
        frame.pts, frame.time_base = self._last_pts, PTS_TIME_BASE
        self._container.mux(self._stream.encode(frame))
        self.frames += 1


def write_clip(
    frames: Sequence[BufferedFrame], path: Path, fps: float, trigger_ts: float | None = None
) -> ClipStats:
    """Encode `frames` (time order) to `path` in one go (see `ClipEncoder`)."""
    if not frames:
        raise ValueError(f"no frames were recorded for {path.name}")
    encoder = ClipEncoder(path, fps, trigger_ts)
    encoder.add(frames)
    return encoder.finish()
