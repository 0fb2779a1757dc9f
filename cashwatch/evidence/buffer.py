"""The pre-event buffer: the last few seconds of a camera as JPEG bytes, never raw frames.

A raw 720p frame is 2.7 MB, so 30 s of raw video per camera would cost gigabytes;
as JPEG at the clip frame rate it is ~16 MB (q75, measured on real footage upscaled
to 1280x720). Frames are sampled by timestamp, so the buffer holds `fps` frames per
second whatever the camera delivers, and it is bounded both by age and by bytes.

Not thread-safe: `ClipRecorder` serialises access.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import cv2
import numpy as np

from cashwatch.evidence.frame import BufferedFrame


def encode_jpeg(frame: np.ndarray, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"OpenCV could not JPEG-encode a frame of shape {frame.shape}")
    return data.tobytes()


class JpegBuffer:
    """The last `keep_s` seconds at `fps`, at most `max_bytes` of JPEG.

    >>> buffer = JpegBuffer(keep_s=22.0, fps=10.0, jpeg_quality=75, max_bytes=48_000_000)
    >>> buffer.wants(0.0), buffer.wants(0.05), buffer.wants(0.1)
    (True, False, True)
    """

    # Live timestamps jitter: a frame a little early for its slot still takes it, or a
    # 10 fps camera feeding a 10 fps buffer would lose every other frame.
    EARLY_TOLERANCE = 0.25

    def __init__(self, keep_s: float, fps: float, jpeg_quality: int, max_bytes: int) -> None:
        if keep_s < 0 or fps <= 0 or max_bytes <= 0:
            raise ValueError(
                f"buffer needs keep_s >= 0, fps > 0, max_bytes > 0; got "
                f"keep_s={keep_s}, fps={fps}, max_bytes={max_bytes}"
            )
        self.keep_s = keep_s
        self.interval_s = 1.0 / fps
        self.jpeg_quality = jpeg_quality
        self.max_bytes = max_bytes
        self._frames: deque[BufferedFrame] = deque()
        self._nbytes = 0
        self._next_due: float | None = None

    @property
    def nbytes(self) -> int:
        """JPEG bytes held (the buffer's memory, give or take object headers)."""
        return self._nbytes

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[BufferedFrame]:
        return iter(self._frames)

    def wants(self, ts: float) -> bool:
        """Whether a frame at `ts` is kept; advances the sampling clock when it is."""
        due = self._next_due
        if due is not None and ts < due - self.EARLY_TOLERANCE * self.interval_s:
            return False
        due = ts if due is None else due
        due += self.interval_s
        if due <= ts:  # after a gap or a clock jump: resume from this frame
            due = ts + self.interval_s
        self._next_due = due
        return True

    def encode(self, frame: np.ndarray, ts: float) -> BufferedFrame:
        return BufferedFrame(ts, encode_jpeg(frame, self.jpeg_quality))

    def push(self, entry: BufferedFrame) -> None:
        """Append a newer frame and drop what is now too old or over the byte cap."""
        self._frames.append(entry)
        self._nbytes += len(entry.jpeg)
        self._trim()

    def insert(self, entry: BufferedFrame) -> bool:
        """Put a frame in time order (a trigger frame the sampler skipped); False if present."""
        index = len(self._frames)
        while index > 0 and self._frames[index - 1].ts > entry.ts:
            index -= 1
        if index > 0 and self._frames[index - 1].ts == entry.ts:
            return False
        self._frames.insert(index, entry)
        self._nbytes += len(entry.jpeg)
        self._trim()
        return True

    def find(self, ts: float) -> BufferedFrame | None:
        for entry in reversed(self._frames):
            if entry.ts == ts:
                return entry
            if entry.ts < ts:
                return None
        return None

    def between(self, start_ts: float, end_ts: float) -> list[BufferedFrame]:
        return [entry for entry in self._frames if start_ts <= entry.ts <= end_ts]

    def _trim(self) -> None:
        newest = self._frames[-1].ts
        while len(self._frames) > 1 and (
            newest - self._frames[0].ts > self.keep_s or self._nbytes > self.max_bytes
        ):
            self._nbytes -= len(self._frames.popleft().jpeg)
