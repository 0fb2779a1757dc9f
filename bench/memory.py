"""Memory: the pre-event buffer's bytes, and the resident size of the processes.

Worker RSS is read from the status table (the manager measures it); the dashboard is
started headless for a moment and measured with psutil. Memory per camera is what the
machine sees (`camera_memory`): memory in use (MemTotal - MemAvailable) with N cameras
running, less that with the supervisor (and inference services) running and no camera,
over N; beside it each process's RSS, PSS and USS by role.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import psutil

from bench import baseline
from bench.footage import REPO, SOURCE_FPS
from bench.stages import read_frames
from cashwatch.config import ClipConfig
from cashwatch.evidence.buffer import JpegBuffer
from tests.harness import wait_for

MIB = 2**20
MEMINFO = Path("/proc/meminfo")
# A seed-design camera once its raw buffer is full (busy RSS of the 2026-11-30 full run:
# 2,020 MiB). The seed runs at most as many cameras as half the memory available holds:
# at CashWatch's gated capacity (13) it would need 26 GiB on a 23.5 GiB machine.
SEED_CAMERA_MIB = 2100.0
USED_READS = 3  # readings of memory in use, 0.5 s apart; their median damps other users


def buffer_bytes_30s(video: Path, seconds: float = 30.0) -> dict[str, float]:
    """Bytes CashWatch's JPEG buffer and the seed's raw list hold for `seconds` of 720p."""
    clip = ClipConfig()
    buffer = JpegBuffer(
        keep_s=seconds, fps=clip.fps, jpeg_quality=clip.jpeg_quality, max_bytes=10**12
    )  # uncapped: we want what 30 s costs
    frames = read_frames(video, int(seconds * SOURCE_FPS))
    for index, frame in enumerate(frames):
        ts = index / SOURCE_FPS
        if buffer.wants(ts):
            buffer.push(buffer.encode(frame, ts))
    raw_frames = min(baseline.BUFFER_FRAMES, int(seconds * SOURCE_FPS / baseline.BUFFER_EVERY))
    frame_bytes = frames[0].nbytes if frames else 1280 * 720 * 3
    return {
        "cashwatch_mb": buffer.nbytes / 1e6,
        "cashwatch_frames": len(buffer),
        "baseline_mb": raw_frames * frame_bytes / 1e6,
        "baseline_frames": raw_frames,
        "seconds": seconds,
        "clip_fps": clip.fps,
        "jpeg_quality": clip.jpeg_quality,
    }


def rss_mib(pids: list[int], children: bool = False) -> float:
    total = 0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            members = [process, *(process.children(recursive=True) if children else [])]
            total += sum(p.memory_info().rss for p in members)
        except psutil.Error:
            continue
    return total / MIB


def pss_mib(pids: list[int]) -> float | None:
    """Mean proportional set size: shared library pages split among the processes mapping
    them, so N workers' PSS adds up to the physical memory they use together."""
    sizes = []
    for pid in pids:
        try:
            sizes.append(psutil.Process(pid).memory_full_info().pss)
        except (psutil.Error, AttributeError):  # AttributeError: no PSS outside Linux
            continue
    return sum(sizes) / len(sizes) / MIB if sizes else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dashboard_rss_mib(config: Path, timeout_s: float = 90.0) -> dict[str, float]:
    """RSS of `streamlit run app.py` once it answers its health check, then after a page load.

    Without a browser the page script does not run (Streamlit runs it per websocket
    session), so this is the server's own footprint.
    """
    port = _free_port()
    env = dict(os.environ, CASHWATCH_CONFIG=str(config), PYTHONUNBUFFERED="1")
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    process = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + timeout_s
        while not _healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the dashboard did not come up on port {port} (exit {process.poll()})"
                )
            time.sleep(0.25)  # polling the health endpoint with a deadline
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            response.read()
        return {"server_mib": rss_mib([process.pid], children=True)}
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


_APPTEST = """
import psutil, sys
from streamlit.testing.v1 import AppTest
app = AppTest.from_file(sys.argv[1], default_timeout=120).run()
print(psutil.Process().memory_info().rss, len(app.exception))
"""


def dashboard_session_rss_mib(config: Path) -> float:
    """RSS of a process that has run the overview page once (Streamlit's AppTest).

    This is what one viewer's script run adds on top of the server: the imports and
    the data the page loads.
    """
    env = dict(os.environ, CASHWATCH_CONFIG=str(config))
    done = subprocess.run(
        [sys.executable, "-c", _APPTEST, str(REPO / "app.py")],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode != 0:
        raise RuntimeError(f"running app.py under AppTest failed: {done.stderr[-500:]}")
    return int(done.stdout.split()[-2]) / MIB


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/_stcore/health", timeout=2
        ) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def meminfo_used_mib(text: str) -> float:
    """MemTotal - MemAvailable, in MiB, from the text of /proc/meminfo.

    >>> meminfo_used_mib("MemTotal:  4096 kB\\nMemFree: 1 kB\\nMemAvailable:  1024 kB\\n")
    3.0
    """
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if value.strip():
            fields[name] = int(value.split()[0])  # kB
    return (fields["MemTotal"] - fields["MemAvailable"]) / 1024


def used_mib(reads: int = USED_READS) -> float:
    """Memory in use on the machine now (the median of a few readings 0.5 s apart)."""
    values = []
    for index in range(reads):
        if index:
            time.sleep(0.5)  # spacing the readings, not waiting for a condition
        values.append(meminfo_used_mib(MEMINFO.read_text()))
    return statistics.median(values)


def process_memory(processes: list[psutil.Process]) -> dict[str, float]:
    """Count and summed RSS, PSS and USS (MiB) of `processes` (a gone one is skipped)."""
    totals = {"count": 0.0, "rss_mib": 0.0, "pss_mib": 0.0, "uss_mib": 0.0}
    for process in processes:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        totals["count"] += 1
        for key in ("rss", "pss", "uss"):
            totals[f"{key}_mib"] += getattr(info, key, 0) / MIB
    return totals


def camera_memory_mib(used_at_n: float, used_at_0: float, n: int) -> float | None:
    """Memory the machine gives each camera: (in use at N - in use at 0) / N.

    >>> camera_memory_mib(5000.0, 1000.0, 8)
    500.0
    """
    return (used_at_n - used_at_0) / n if n > 0 else None


def seed_cameras_that_fit(n: int, available_mib: float) -> int:
    """At most `n` seed-design cameras, as many as half of `available_mib` holds.

    >>> seed_cameras_that_fit(13, 20000.0), seed_cameras_that_fit(3, 20000.0)
    (4, 3)
    """
    return max(1, min(n, int(0.5 * available_mib / SEED_CAMERA_MIB)))


class MemoryFleet(Protocol):
    kind: str

    def resize(self, n: int) -> None: ...

    def counters(self) -> dict[str, Any]: ...


Roles = Callable[[], dict[str, list[psutil.Process]]]


def _snapshot(roles: Roles) -> dict[str, Any]:
    return {
        "used_mib": used_mib(),
        "processes": {role: process_memory(found) for role, found in roles().items()},
    }


def measure_camera_memory(
    fleet: MemoryFleet,
    n: int,
    roles: Roles,
    fill_frames: int,
    log: Callable[[str], None],
    timeout_s: float = 240.0,
) -> dict[str, Any]:
    """Memory in use with `n` cameras running, then with none (the supervisor and its
    services still up), and the difference per camera.

    `fill_frames`: frames every camera must have read before the measurement, so its
    pre-event buffer is full (0: measure as soon as the cameras run). `roles()` lists
    the fleet's processes by role; with no camera the workers must be gone.
    """
    log(f"[memory] {fleet.kind}: {n} camera(s)")
    fleet.resize(n)
    started = _snapshot(roles)  # models loaded, buffers (nearly) empty
    if fill_frames:
        log(f"[memory] {fleet.kind}: waiting for every camera to read {fill_frames} frames")
        wait_for(
            lambda: all(c.frames_read >= fill_frames for c in fleet.counters().values()),
            timeout_s,
            f"{fleet.kind}'s pre-event buffers to fill",
        )
    at_n = _snapshot(roles)
    fleet.resize(0)
    wait_for(lambda: not roles().get("workers"), 60, f"{fleet.kind}'s workers to exit")
    at_0 = _snapshot(roles)
    per_camera = camera_memory_mib(at_n["used_mib"], at_0["used_mib"], n)
    log(f"[memory] {fleet.kind}: {per_camera:.0f} MiB per camera at N={n}")
    return {
        "n": n,
        "buffers_filled": bool(fill_frames),
        "at_start": started,
        "at_n": at_n,
        "at_0": at_0,
        "camera_memory_mib": per_camera,
    }
