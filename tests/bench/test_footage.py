"""The benchmark's footage: each camera loops the same frames from its own starting point."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.footage import SOURCE_FPS, camera_footage, loop_offset_s, transcode
from tests.conftest import write_test_video


def decode(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, (160, 90)))  # small: the test compares them all
    capture.release()
    return frames


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-s H.264 clip made as the benchmark makes its footage (keyframe every 2 s)."""
    folder = tmp_path_factory.mktemp("footage")
    raw = write_test_video(folder / "raw.avi", seconds=12.0, fps=SOURCE_FPS)
    clip = folder / "clip.mp4"
    transcode(raw, clip)
    return clip


def test_offsets_spread_cameras_over_the_clip_at_keyframes() -> None:
    offsets = [loop_offset_s(i, 139.4) for i in range(13)]
    assert offsets[0] == 0.0
    assert len(set(offsets)) == 13  # no two of the first 13 cameras start together
    assert all(o % 2.0 == 0 and 0 <= o < 139.4 for o in offsets)
    gaps = np.diff(sorted(offsets))
    assert gaps.min() >= 6.0  # about evenly spread (139 s / 13 = 10.7 s)
    with pytest.raises(ValueError, match="index=-1"):
        loop_offset_s(-1, 10.0)


def test_a_camera_loops_every_frame_once_from_its_own_start(footage: Path) -> None:
    original = decode(footage)
    n = len(original)
    assert n == 12 * SOURCE_FPS
    assert camera_footage(footage, 0) == footage

    copy = camera_footage(footage, 1)
    frames = decode(copy)
    assert len(frames) == n
    start = next(i for i, f in enumerate(original) if np.array_equal(f, frames[0]))
    # The first keyframe at or after the offset (6 s here); keyframes are 2 s apart.
    assert loop_offset_s(1, 12.0) * SOURCE_FPS <= start < (loop_offset_s(1, 12.0) + 2) * SOURCE_FPS
    wrong = [j for j in range(n) if not np.array_equal(frames[j], original[(start + j) % n])]
    assert wrong == []  # the same packets, so the very same pixels, wrapping round once
    assert camera_footage(footage, 1) == copy  # made once, then taken from the cache
