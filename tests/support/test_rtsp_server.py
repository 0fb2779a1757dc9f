"""The loopback RTSP camera behaves like the real failures the workers must survive.

Each test prints what it measured (run with ``-s`` to see it): these numbers set the worker's
stall and reconnect timeouts.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest

from tests.support.rtsp import (
    H264Clip,
    RtspServer,
    free_port,
    open_capture,
    read_stamp,
    require_rtsp,
)

pytestmark = [pytest.mark.rtsp, pytest.mark.media]

ServerFactory = Callable[..., RtspServer]
REPO = Path(__file__).resolve().parents[2]
READ_TIMEOUT_S = 3.0  # CAP_PROP_READ_TIMEOUT_MSEC in CAPTURE_PARAMS


def read_frames(capture: cv2.VideoCapture, count: int) -> list[np.ndarray]:
    frames = []
    for index in range(count):
        ok, frame = capture.read()
        assert ok, f"read {index + 1} of {count} failed"
        frames.append(frame)
    return frames


def timed_open(url: str) -> tuple[cv2.VideoCapture, float]:
    started = time.monotonic()
    capture = open_capture(url)
    assert capture.isOpened(), f"OpenCV could not open {url}"
    return capture, time.monotonic() - started


def read_until_live(capture: cv2.VideoCapture, fps: int, max_reads: int = 100) -> int:
    """Read the frames FFmpeg buffered while probing the stream at open (~1.4 s of them with
    default probing) until reads wait for the server; returns how many reads that took.

    Only from there does a dead or hung server show in the next read. Live means three reads
    in a row that each waited most of a frame interval: one slow read can be a busy CPU.
    """
    waited_in_a_row = 0
    for reads in range(1, max_reads + 1):
        started = time.monotonic()
        ok, _ = capture.read()
        assert ok, f"read {reads} failed while catching up with the live stream"
        waited = time.monotonic() - started > 0.7 / fps
        waited_in_a_row = waited_in_a_row + 1 if waited else 0
        if waited_in_a_row == 3:
            return reads - 3
    pytest.fail(f"{max_reads} reads and still not waiting for the server: is it paced?")


def first_failed_read(capture: cv2.VideoCapture, max_reads: int) -> tuple[int, float]:
    """(frames still read, seconds) until read() returns False; fails after `max_reads` frames."""
    started = time.monotonic()
    for good in range(max_reads):
        ok, _ = capture.read()
        if not ok:
            return good, time.monotonic() - started
    pytest.fail(f"read() kept returning frames ({max_reads}) from a dead or hung server")


@pytest.fixture
def camera(rtsp_server: ServerFactory, rtsp_clip: H264Clip) -> RtspServer:
    return rtsp_server({"cam1": rtsp_clip.path})


def test_opencv_reads_frames_of_the_clip(camera: RtspServer, rtsp_clip: H264Clip) -> None:
    capture, open_s = timed_open(camera.url("cam1"))
    started = time.monotonic()
    frames = read_frames(capture, 10)
    read_s = time.monotonic() - started
    capture.release()
    width, height = rtsp_clip.size_wh
    assert frames[0].shape == (height, width, 3)
    stamps = [read_stamp(frame) for frame in frames]
    # Consecutive frames of the file, in order (modulo the loop).
    assert all((b - a) % rtsp_clip.frames == 1 for a, b in itertools.pairwise(stamps)), stamps
    print(f"\nopen {open_s:.2f} s, 10 frames in {read_s:.2f} s, stamps {stamps}")


def test_stream_loops_past_the_end_of_the_file(camera: RtspServer, rtsp_clip: H264Clip) -> None:
    capture, _ = timed_open(camera.url("cam1"))
    count = 2 * rtsp_clip.frames + 5
    started = time.monotonic()
    stamps = [read_stamp(frame) for frame in read_frames(capture, count)]
    elapsed = time.monotonic() - started
    capture.release()
    steps = [(b - a) % rtsp_clip.frames for a, b in itertools.pairwise(stamps)]
    wraps = sum(1 for a, b in itertools.pairwise(stamps) if b < a)
    assert steps == [1] * (count - 1), f"frames skipped or repeated: {stamps}"
    assert wraps >= 2, stamps
    print(f"\n{count} frames of a {rtsp_clip.frames}-frame file, {wraps} wraps, {elapsed:.2f} s")


def test_read_fails_quickly_after_the_server_is_killed(
    camera: RtspServer, rtsp_clip: H264Clip
) -> None:
    capture, _ = timed_open(camera.url("cam1"))
    read_until_live(capture, rtsp_clip.fps)
    camera.stop()
    good, failed_after_s = first_failed_read(capture, max_reads=20)
    capture.release()
    assert failed_after_s < 1.0
    print(f"\nkilled: read() False after {good} buffered frames, {failed_after_s * 1000:.0f} ms")


def test_new_capture_reads_after_restart_on_the_same_url(
    camera: RtspServer, rtsp_clip: H264Clip
) -> None:
    url = camera.url("cam1")
    capture, _ = timed_open(url)
    read_until_live(capture, rtsp_clip.fps)  # a client is connected when the server dies
    started = time.monotonic()
    camera.restart()
    restart_s = time.monotonic() - started
    assert camera.url("cam1") == url
    first_failed_read(capture, max_reads=5)  # the old connection is gone for good
    capture.release()
    capture, reopen_s = timed_open(url)
    read_frames(capture, 10)
    capture.release()
    print(f"\nrestart {restart_s:.2f} s (READY + TCP), reopen {reopen_s:.2f} s")


def test_paused_server_times_out_reads_and_serves_a_new_capture_after_resume(
    camera: RtspServer, rtsp_clip: H264Clip
) -> None:
    capture, _ = timed_open(camera.url("cam1"))
    buffered = read_until_live(capture, rtsp_clip.fps)
    camera.pause()
    durations: list[float] = []
    started = time.monotonic()
    ok = True
    while ok and len(durations) < 5:
        read_started = time.monotonic()
        ok, _ = capture.read()
        durations.append(round(time.monotonic() - read_started, 2))
    stalled_s = time.monotonic() - started
    print(f"\n{buffered} frames buffered at open; paused: reads took {durations} s")
    assert not ok, f"reads kept returning frames from a paused server: {durations}"
    # The first read blocks for the read timeout (a stall is visible from its duration)...
    assert READ_TIMEOUT_S - 0.2 < durations[0] < READ_TIMEOUT_S + 1.0
    # ...and at most one more (when FFmpeg hands over the frame its parser held back).
    assert len(durations) <= 2
    assert stalled_s < 2 * READ_TIMEOUT_S + 1.0
    camera.resume()
    started = time.monotonic()
    recovered = [capture.read()[0] for _ in range(10)]
    recovered_s = time.monotonic() - started
    capture.release()
    # Not asserted: whether the old capture recovers depends on timing (see CAPTURE_PARAMS).
    print(f"after resume, same capture: {recovered} in {recovered_s:.2f} s")
    capture, reopen_s = timed_open(camera.url("cam1"))
    read_frames(capture, 10)
    capture.release()
    print(f"after resume, new capture opened in {reopen_s:.2f} s and read 10 frames")


def test_several_mounts_on_one_server(rtsp_server: ServerFactory, rtsp_clip: H264Clip) -> None:
    server = rtsp_server({"cam1": rtsp_clip.path, "cam2": rtsp_clip.path})
    for mount in ("cam1", "cam2"):
        capture, _ = timed_open(server.url(mount))
        read_frames(capture, 3)
        capture.release()


def test_bad_mount_is_named(rtsp_clip: H264Clip, tmp_path: Path) -> None:
    require_rtsp()
    server = RtspServer({"cam1": tmp_path / "missing.mp4"}, log_path=tmp_path / "log")
    with pytest.raises(RuntimeError, match=r"missing\.mp4"):
        server.start()
    assert not server.running
    with pytest.raises(KeyError, match="cam1"):
        RtspServer({"cam1": rtsp_clip.path}, port=free_port()).url("cam9")


def test_server_exits_when_the_test_process_is_killed(rtsp_clip: H264Clip) -> None:
    require_rtsp()
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys; from pathlib import Path; "
            "from tests.support.rtsp import RtspServer;"
            f"server = RtspServer({{'cam1': Path({str(rtsp_clip.path)!r})}}).start();"
            "print(server.pid, flush=True); signal.pause()",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    server: psutil.Process | None = None
    try:
        assert owner.stdout is not None
        server = psutil.Process(int(owner.stdout.readline()))
        owner.kill()  # no stop(), no teardown: only the pipe to the server closes
        server.wait(timeout=5)  # psutil.TimeoutExpired if the server outlived its owner
    finally:
        owner.kill()
        owner.wait()
        if server is not None and server.is_running():
            server.kill()  # the orphan this test is about: never leave it behind
