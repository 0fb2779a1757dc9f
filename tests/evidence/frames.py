"""Frames for evidence tests: real footage, solid markers, and reading clips back."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

MAGENTA = (255, 0, 255)  # BGR


def video_frames(path: Path, size_wh: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), f"OpenCV cannot open {path}"
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame if size_wh is None else cv2.resize(frame, size_wh)
    finally:
        capture.release()


def solid(like: np.ndarray, bgr: tuple[int, int, int]) -> np.ndarray:
    frame = np.empty_like(like)
    frame[:] = bgr
    return frame


def marker_times(clip: Path, bgr: tuple[int, int, int]) -> list[float]:
    """Times (s from the clip's start) of decoded frames that are the solid colour."""
    target = np.array(bgr[::-1], np.float32)  # decoded as RGB
    times = []
    with av.open(str(clip)) as container:
        for frame in container.decode(video=0):
            mean = frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
            if np.abs(mean - target).max() < 12 and frame.time is not None:
                times.append(float(frame.time))
    return times


def require_ffprobe() -> str:
    path = shutil.which("ffprobe")
    if path is None:
        pytest.skip("ffprobe is not installed (apt-get install -y ffmpeg)")
    return path


def probe(clip: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            require_ffprobe(),
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,pix_fmt,nb_frames:format=duration",
            "-of",
            "json",
            str(clip),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out)
    return {**data["streams"][0], "duration": float(data["format"]["duration"])}


def top_level_atoms(clip: Path) -> list[str]:
    """The MP4's top-level boxes in file order, as ffprobe's trace reports them."""
    trace = subprocess.run(
        [require_ffprobe(), "-v", "trace", str(clip)], capture_output=True, text=True
    ).stderr
    atoms = []
    for line in trace.splitlines():
        if "type:'" in line and "parent:'root'" in line:
            atoms.append(line.split("type:'")[1][:4])
    return atoms
