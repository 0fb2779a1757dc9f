"""Milliseconds per frame of the pose model, per backend, input size and thread count.

Each combination runs in a fresh subprocess so one backend's thread pools and
memory do not colour the next; exports are cached under bench/.cache/models.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from bench.footage import REPO

BACKENDS = ("openvino", "onnxruntime", "torch")
WARMUP = 3


def sample_frames(video: Path, count: int = 8) -> list[np.ndarray]:
    """`count` frames spread over the first ~30 s of the footage (people in view)."""
    capture = cv2.VideoCapture(str(video))
    frames: list[np.ndarray] = []
    index = 0
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        if index % 50 == 25:
            frames.append(frame)
        index += 1
    capture.release()
    if not frames:
        raise ValueError(f"no frames could be read from {video}")
    return frames


def time_backend(
    backend: str, imgsz: int, threads: int, video: Path, data_dir: Path, iterations: int
) -> dict[str, float]:
    """Median, min and max ms of `PoseModel.predict` (pre- and post-processing included)."""
    from cashwatch.config import ModelConfig
    from cashwatch.detect.backends import load_pose_model

    model = load_pose_model(
        ModelConfig(backend=backend, imgsz=imgsz, threads=threads),  # type: ignore[arg-type]
        data_dir,
    )
    frames = sample_frames(video)
    for i in range(WARMUP):
        model.predict(frames[i % len(frames)])
    times = []
    for i in range(iterations):
        started = time.perf_counter()
        model.predict(frames[i % len(frames)])
        times.append((time.perf_counter() - started) * 1000.0)
    return {
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "max_ms": max(times),
        "runs": iterations,
    }


def run_matrix(
    video: Path,
    data_dir: Path,
    sizes: tuple[int, ...],
    threads: tuple[int, ...],
    iterations: int,
    log: Callable[[str], None] = print,
    backends: tuple[str, ...] = BACKENDS,
) -> list[dict[str, object]]:
    """Every combination in its own interpreter; a failing backend is reported, not fatal."""
    rows: list[dict[str, object]] = []
    for backend in backends:
        for imgsz in sizes:
            for n_threads in threads:
                row: dict[str, object] = {"backend": backend, "imgsz": imgsz, "threads": n_threads}
                command = [
                    sys.executable,
                    "-m",
                    "bench.inference",
                    "--backend",
                    backend,
                    "--imgsz",
                    str(imgsz),
                    "--threads",
                    str(n_threads),
                    "--video",
                    str(video),
                    "--data-dir",
                    str(data_dir),
                    "--iterations",
                    str(iterations),
                ]
                done = subprocess.run(
                    command, capture_output=True, text=True, cwd=REPO, timeout=900
                )
                if done.returncode == 0:
                    row.update(json.loads(done.stdout.strip().splitlines()[-1]))
                    log(
                        f"[inference] {backend} {imgsz} px, {n_threads} thread(s): "
                        f"{row['median_ms']:.1f} ms (min {row['min_ms']:.1f}, "
                        f"max {row['max_ms']:.1f})"
                    )
                else:
                    row["error"] = (done.stderr or done.stdout).strip().splitlines()[-1:]
                    log(f"[inference] {backend} {imgsz} px failed: {row['error']}")
                rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="time one backend (used by bench.run)")
    parser.add_argument("--backend", choices=BACKENDS, required=True)
    parser.add_argument("--imgsz", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    result = time_backend(
        args.backend, args.imgsz, args.threads, args.video, args.data_dir, args.iterations
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
