"""The pre-event buffer: sampled by timestamp, bounded by age and bytes, small on real footage."""

from __future__ import annotations

import random

import numpy as np
import pytest

from cashwatch.evidence.buffer import JpegBuffer
from cashwatch.evidence.frame import BufferedFrame
from tests.conftest import require_media
from tests.evidence.frames import video_frames

WALK_VIDEO = "video/w1_indoor_people_one_by_one__intel.mp4"


def _frame(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)


def _kept(buffer: JpegBuffer, timestamps: list[float]) -> list[float]:
    return [ts for ts in timestamps if buffer.wants(ts)]


@pytest.mark.parametrize(
    ("source_fps", "expected_per_s"), [(30.0, 10), (15.0, 10), (25.0, 10), (10.0, 10), (5.0, 5)]
)
def test_keeps_the_clip_rate_whatever_the_camera_delivers(
    source_fps: float, expected_per_s: float
) -> None:
    buffer = JpegBuffer(keep_s=30.0, fps=10.0, jpeg_quality=75, max_bytes=10**9)
    kept = _kept(buffer, [i / source_fps for i in range(int(20 * source_fps))])
    assert len(kept) / 20 == pytest.approx(expected_per_s, rel=0.06)


def test_a_jittery_10_fps_camera_keeps_every_frame() -> None:
    jitter = random.Random(1)
    timestamps = [i / 10 + jitter.uniform(-0.01, 0.01) for i in range(200)]
    buffer = JpegBuffer(keep_s=30.0, fps=10.0, jpeg_quality=75, max_bytes=10**9)
    assert len(_kept(buffer, timestamps)) == 200


def test_a_gap_in_the_stream_does_not_cause_a_burst() -> None:
    buffer = JpegBuffer(keep_s=30.0, fps=10.0, jpeg_quality=75, max_bytes=10**9)
    before = _kept(buffer, [i / 30 for i in range(30)])
    after = _kept(buffer, [5.0 + i / 30 for i in range(30)])
    assert len(before) == 10 and len(after) == 10


def test_old_frames_and_excess_bytes_are_dropped_oldest_first() -> None:
    buffer = JpegBuffer(keep_s=2.0, fps=10.0, jpeg_quality=75, max_bytes=10**9)
    for i in range(100):
        buffer.push(buffer.encode(_frame(i), i / 10))
    assert next(iter(buffer)).ts == pytest.approx(7.9) and len(buffer) == 21

    size = len(buffer.encode(_frame(0), 0.0).jpeg)
    small = JpegBuffer(keep_s=60.0, fps=10.0, jpeg_quality=75, max_bytes=int(size * 3.5))
    for i in range(20):
        small.push(small.encode(_frame(i), i / 10))
    assert len(small) == 3 and small.nbytes <= small.max_bytes
    assert small.nbytes == sum(len(e.jpeg) for e in small)


def test_a_skipped_trigger_frame_is_inserted_in_time_order_once() -> None:
    buffer = JpegBuffer(keep_s=10.0, fps=10.0, jpeg_quality=75, max_bytes=10**9)
    for ts in (0.0, 0.1, 0.2):
        buffer.push(BufferedFrame(ts, b"x"))
    assert buffer.insert(BufferedFrame(0.15, b"t")) is True
    assert buffer.insert(BufferedFrame(0.15, b"t")) is False
    assert [e.ts for e in buffer] == [0.0, 0.1, 0.15, 0.2]
    assert buffer.find(0.15) is not None and buffer.find(0.16) is None


def test_bad_settings_name_the_value() -> None:
    with pytest.raises(ValueError, match="fps=0"):
        JpegBuffer(keep_s=1.0, fps=0.0, jpeg_quality=75, max_bytes=1)


@pytest.mark.media
def test_30_s_of_720p_real_footage_fits_in_25_mb() -> None:
    buffer = JpegBuffer(keep_s=30.0, fps=10.0, jpeg_quality=75, max_bytes=10**9)
    frames = video_frames(require_media(WALK_VIDEO), size_wh=(1280, 720))
    for index, frame in enumerate(frames):  # the clip is 10 fps: every frame is kept
        if index >= 301:
            break
        assert buffer.wants(index / 10)
        buffer.push(buffer.encode(frame, index / 10))
    assert len(buffer) == 301
    print(f"30 s of 1280x720 at 10 fps, q75: {buffer.nbytes / 1e6:.1f} MB")
    assert buffer.nbytes <= 25_000_000
