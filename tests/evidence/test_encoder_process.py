"""The clip encoder child: the worker that streams it frames never loads PyAV; a worker
that dies, an encoder that crashes and a frame that cannot be read each end the clip
cleanly, with no half-written file left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest

from cashwatch.evidence.buffer import BufferedFrame
from cashwatch.evidence.encoder_process import ClipEncoderProcess, EncoderFailed
from tests.evidence.frames import probe, require_ffprobe
from tests.harness import wait_for

# A camera worker's part, in a process of its own: stream 20 frames, say what it
# mapped and its encoder's pid, then wait to be killed or told to finish.
WORKER = textwrap.dedent(
    """
    import sys
    import cv2, numpy as np
    from pathlib import Path
    from cashwatch.evidence.buffer import BufferedFrame
    from cashwatch.evidence.encoder_process import ClipEncoderProcess

    encoder = ClipEncoderProcess(Path(sys.argv[1]), fps=10.0, trigger_ts=100.5)
    frame = np.full((240, 320, 3), 90, np.uint8)
    jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
    encoder.add([BufferedFrame(100.0 + i / 10, jpeg) for i in range(20)])
    # PyAV's wheel keeps FFmpeg and x264 in av.libs (OpenCV's FFmpeg is elsewhere)
    mapped = "/av.libs/" in Path("/proc/self/maps").read_text() or "av" in sys.modules
    print(encoder.pid, mapped, flush=True)
    if sys.stdin.readline().strip() == "finish":
        print(encoder.finish().frames, flush=True)
    """
)


def _frames(count: int, t0: float = 100.0) -> list[BufferedFrame]:
    frame = np.full((240, 320, 3), 90, np.uint8)
    frame[:, 100:140] = (0, 200, 0)
    jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
    return [BufferedFrame(t0 + i / 10, jpeg) for i in range(count)]


def _start_worker(clip: Path) -> tuple[subprocess.Popen[str], int, bool]:
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(clip)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    pid, mapped = worker.stdout.readline().split()
    return worker, int(pid), mapped == "True"


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_the_worker_never_loads_pyav_and_its_clip_plays(tmp_path: Path) -> None:
    require_ffprobe()
    clip = tmp_path / "clips" / "cam" / "a.mp4"
    worker, encoder_pid, mapped = _start_worker(clip)
    out, _ = worker.communicate("finish\n", timeout=60)
    assert not mapped, "the worker's process loaded PyAV"
    assert out.strip() == "20"
    info = probe(clip)
    assert (info["codec_name"], info["pix_fmt"], info["nb_frames"]) == ("h264", "yuv420p", "20")
    assert _gone(encoder_pid)


def test_a_worker_killed_mid_clip_leaves_no_encoder_and_no_file(tmp_path: Path) -> None:
    clip = tmp_path / "clips" / "cam" / "a.mp4"
    worker, encoder_pid, _ = _start_worker(clip)
    tmp = clip.with_name(f".{clip.name}.tmp")
    wait_for(tmp.exists, 30, "the encoder to begin writing")
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    wait_for(lambda: _gone(encoder_pid), 15, "the orphaned encoder to exit")
    assert not tmp.exists() and not clip.exists()


def test_an_unreadable_frame_fails_the_clip_naming_its_time(tmp_path: Path) -> None:
    clip = tmp_path / "b.mp4"
    encoder = ClipEncoderProcess(clip, fps=10.0)
    with pytest.raises(EncoderFailed, match=r"112\.500 is not a readable JPEG"):
        encoder.add(_frames(5))
        encoder.add([BufferedFrame(112.5, b"not a jpeg")])
        encoder.add(_frames(30, t0=113.0))  # may meet the closed pipe: the same error
        encoder.finish()
    assert list(tmp_path.iterdir()) == []
    assert _gone(encoder.pid)


def test_an_encoder_that_crashes_fails_its_clip_and_nothing_else(tmp_path: Path) -> None:
    encoder = ClipEncoderProcess(tmp_path / "c.mp4", fps=10.0)
    encoder.add(_frames(5))
    os.kill(encoder.pid, signal.SIGKILL)
    with pytest.raises(EncoderFailed, match="exited with -9"):
        encoder.add(_frames(30, t0=101.0))
        encoder.finish()
    # the next clip gets an encoder of its own
    second = ClipEncoderProcess(tmp_path / "d.mp4", fps=10.0)
    second.add(_frames(10))
    assert second.finish().frames == 10
