"""Small builders and probes shared by the fault tests: media made at test time, status
probes and CPU measurements of real worker processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import psutil

from tests.harness import ManagerProcess, wait_for


def frames_read(manager: ManagerProcess, camera_id: str) -> int:
    return int(manager.worker(camera_id)["frames_read"])


def wait_frames_grow(manager: ManagerProcess, camera_id: str, by: int, timeout_s: float) -> int:
    """Wait until `camera_id` has read `by` more frames; returns the new count."""
    start = frames_read(manager, camera_id)
    return int(
        wait_for(
            lambda: (n := frames_read(manager, camera_id)) >= start + by and n,
            timeout_s,
            f"{camera_id} to read {by} more frames",
        )
    )


def wait_state_in(
    manager: ManagerProcess, camera_id: str, states: set[str], timeout_s: float
) -> dict[str, Any]:
    return wait_for(
        lambda: (r := manager.workers().get(camera_id)) and r["state"] in states and r,
        timeout_s,
        f"{camera_id} to be one of {sorted(states)}",
        interval_s=0.05,
    )


def write_ts(path: Path, parts: list[tuple[tuple[int, int], int]], fps: int = 15) -> Path:
    """An H.264 MPEG-TS file: for each (size_wh, frames) part, a moving bar at that size.

    Each part is encoded alone and the parts are concatenated byte for byte (MPEG-TS
    allows it): the resolution changes mid-file, with a new SPS, as when a camera is
    reconfigured while streaming.
    """
    data = b""
    for index, (size_wh, count) in enumerate(parts):
        part = path.with_name(f"{path.stem}.part{index}.ts")
        _write_ts_part(part, size_wh, count, fps)
        data += part.read_bytes()
        part.unlink()
    path.write_bytes(data)
    return path


def _write_ts_part(path: Path, size_wh: tuple[int, int], count: int, fps: int) -> None:
    width, height = size_wh
    with av.open(str(path), "w", format="mpegts") as writer:
        stream = writer.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "bf": "0", "g": "10"}
        for i in range(count):
            image = np.full((height, width, 3), 40, np.uint8)
            x = i * 7 % width
            image[:, max(0, x - 8) : x + 8] = (0, 200, 0)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            writer.mux(stream.encode(frame))
        writer.mux(stream.encode(None))


def corrupt_middle(path: Path, *, chunks: int = 12, chunk_bytes: int = 564, seed: int = 7) -> Path:
    """Overwrite `chunks` spans of random bytes in the middle half of `path`, in place."""
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(seed)
    quarter = len(data) // 4
    for start in np.linspace(quarter, 3 * quarter, chunks).astype(int):
        data[start : start + chunk_bytes] = rng.integers(0, 256, chunk_bytes, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


@contextmanager
def cpu_meter(pids: dict[str, int]) -> Iterator[dict[str, float]]:
    """CPU % of each process over the `with` block (filled in on exit)."""
    processes = {name: psutil.Process(pid) for name, pid in pids.items()}
    for process in processes.values():
        process.cpu_percent(None)
    started = time.monotonic()
    result: dict[str, float] = {}
    yield result
    assert time.monotonic() - started > 1.0, "measure CPU over at least a second"
    for name, process in processes.items():
        result[name] = process.cpu_percent(None)


FIRE_CLIP = "video/f3_dollhouse_fire_white_smoke__furg_house6.mp4"


def write_fire_loop(
    source: Path,
    path: Path,
    *,
    fire_from_s: float = 10.0,
    fire_s: float = 7.0,
    dark_s: float = 5.0,
    fps: int = 15,
) -> Path:
    """A clip that raises one fire event per pass when looped: `fire_s` of real flames
    from `source`, then `dark_s` of black so the fire rule's run ends before the loop.

    The fire rule raises once per continuous fire; real footage that burns throughout
    would give one event per camera for the whole test.
    """
    with av.open(str(source)) as reader, av.open(str(path), "w", format="mpegts") as writer:
        in_stream = reader.streams.video[0]
        stream = writer.add_stream("libx264", rate=fps)
        stream.width, stream.height = in_stream.width, in_stream.height
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "bf": "0", "g": str(fps)}
        pts = 0
        next_ts = fire_from_s
        for frame in reader.decode(video=0):
            ts = float(frame.time or 0.0)
            if ts < next_ts - 1e-6:
                continue
            if ts >= fire_from_s + fire_s:
                break
            next_ts += 1.0 / fps
            out = frame.reformat(format="yuv420p")
            out.pts, out.time_base = pts, Fraction(1, fps)
            pts += 1
            writer.mux(stream.encode(out))
        black = np.zeros((stream.height, stream.width, 3), np.uint8)
        for _ in range(round(dark_s * fps)):
            out = av.VideoFrame.from_ndarray(black, format="bgr24").reformat(format="yuv420p")
            out.pts, out.time_base = pts, Fraction(1, fps)
            pts += 1
            writer.mux(stream.encode(out))
        writer.mux(stream.encode(None))
    return path


def event_rows(data_dir: Path) -> dict[str, int]:
    """event_id -> how many rows carry it (DuckDB's key makes more than 1 a schema bug)."""
    from cashwatch.store.db import DatabaseMissingError, connect_readonly

    try:
        with connect_readonly(data_dir) as conn:
            rows = conn.execute(
                "SELECT event_id, count(*) FROM events GROUP BY event_id"
            ).fetchall()
    except DatabaseMissingError:
        return {}
    return {str(event_id): int(count) for event_id, count in rows}


def journalled_event_ids(data_dir: Path) -> set[str]:
    """Every event id the workers journalled (what must reach DuckDB)."""
    import json

    ids = set()
    for path in (data_dir / "journal").glob("*/*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record.get("kind") == "event":
                ids.add(record["event_id"])
    return ids
