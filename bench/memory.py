"""Memory: the pre-event buffer's bytes, and the resident size of the processes.

Worker RSS is read from the status table (the manager measures it); the dashboard is
started headless for a moment and measured with psutil.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from bench import baseline
from bench.footage import REPO, SOURCE_FPS
from bench.stages import read_frames
from cashwatch.config import ClipConfig
from cashwatch.evidence.buffer import JpegBuffer

MIB = 2**20


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
