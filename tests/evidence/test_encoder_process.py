"""The clip encoder child: the worker that streams it frames never loads PyAV; a worker
that dies, an encoder that crashes and a frame that cannot be read each end the clip
cleanly, with no half-written file left."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import cv2
import numpy as np
import psutil
import pytest

from cashwatch.evidence.encoder_process import ClipEncoderProcess, EncoderFailed
from cashwatch.evidence.frame import BufferedFrame
from cashwatch.evidence.mp4 import temporary_path
from tests.evidence.frames import probe, require_ffprobe
from tests.harness import wait_for

# A camera worker's part, in a process of its own: stream 20 frames, say what it
# mapped and its encoder's pid, then wait to be killed or told to finish.
WORKER = textwrap.dedent(
    """
    import sys
    import cv2, numpy as np
    from pathlib import Path
    from cashwatch.evidence.frame import BufferedFrame
    from cashwatch.evidence.encoder_process import END, RECORD, ClipEncoderProcess

    encoder = ClipEncoderProcess(Path(sys.argv[1]), fps=10.0, trigger_ts=100.5)
    frame = np.full((240, 320, 3), 90, np.uint8)
    jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
    encoder.add([BufferedFrame(100.0 + i / 10, jpeg) for i in range(20)])
    # PyAV's wheel keeps FFmpeg and x264 in av.libs (OpenCV's FFmpeg is elsewhere)
    mapped = "/av.libs/" in Path("/proc/self/maps").read_text() or "av" in sys.modules
    print(encoder.pid, mapped, flush=True)
    command = sys.stdin.readline().strip()
    if command == "finish":
        print(encoder.finish().frames, flush=True)
    elif command == "vanish":  # tell the end and be gone before the clip is done
        encoder._child.stdout.close()
        encoder._child.stdin.write(RECORD.pack(END, 0.0, 0))
        encoder._child.stdin.close()
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


def test_a_clip_its_worker_can_no_longer_report_is_not_kept(tmp_path: Path) -> None:
    """The worker stopped waiting (its close timed out): no one would journal the clip."""
    clip = tmp_path / "clips" / "cam" / "a.mp4"
    worker, encoder_pid, _ = _start_worker(clip)
    worker.communicate("vanish\n", timeout=60)
    wait_for(lambda: _gone(encoder_pid), 30, "the encoder to finish")
    assert list(clip.parent.iterdir()) == []


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


@pytest.mark.parametrize(
    ("sig", "cause"),
    [(signal.SIGKILL, "killed by SIGKILL"), (signal.SIGTERM, "stopped by SIGTERM")],
)
def test_an_encoder_that_is_killed_fails_its_clip_and_leaves_no_file(
    tmp_path: Path, sig: signal.Signals, cause: str
) -> None:
    clip = tmp_path / "c.mp4"
    encoder = ClipEncoderProcess(clip, fps=10.0)
    encoder.add(_frames(5))
    wait_for(temporary_path(clip).exists, 30, "the encoder to begin writing")
    os.kill(encoder.pid, sig)  # SIGKILL cannot clean up: the worker's side does
    with pytest.raises(EncoderFailed, match=cause):
        encoder.add(_frames(30, t0=101.0))
        encoder.finish()
    assert list(tmp_path.iterdir()) == []
    # the next clip gets an encoder of its own
    second = ClipEncoderProcess(tmp_path / "d.mp4", fps=10.0)
    second.add(_frames(10))
    assert second.finish().frames == 10


def test_a_frame_the_pipe_cannot_carry_stops_the_encoder(tmp_path: Path) -> None:
    encoder = ClipEncoderProcess(tmp_path / "e.mp4", fps=10.0)
    encoder.add(_frames(5))
    with pytest.raises(struct.error):
        encoder.add([BufferedFrame(None, b"x")])  # type: ignore[arg-type]
    assert _gone(encoder.pid) and list(tmp_path.iterdir()) == []


def test_black_and_white_stay_black_and_white(tmp_path: Path) -> None:
    """A JPEG's YUV is full range, H.264's limited: the clip must convert, not copy."""
    black, white = (
        cv2.imencode(".jpg", np.full((64, 64, 3), level, np.uint8))[1].tobytes()
        for level in (0, 255)
    )
    clip = tmp_path / "bw.mp4"
    encoder = ClipEncoderProcess(clip, fps=10.0)
    encoder.add([BufferedFrame(i / 10, black if i % 2 == 0 else white) for i in range(6)])
    encoder.finish()
    with av.open(str(clip)) as container:
        frames = list(container.decode(video=0))
    lumas = [float(f.to_ndarray()[:64].mean()) for f in frames]  # the Y plane
    colours = [float(f.to_ndarray(format="rgb24").mean()) for f in frames]
    assert lumas[0::2] == pytest.approx([16] * 3, abs=3) and lumas[1::2] == pytest.approx(
        [235] * 3, abs=3
    ), lumas
    assert colours[0::2] == pytest.approx([0] * 3, abs=4) and colours[1::2] == pytest.approx(
        [255] * 3, abs=4
    ), colours


def test_the_encoder_child_imports_no_opencv_or_numpy() -> None:
    """The child is one process per clip: each heavy import would be paid per clip."""
    code = (
        "import sys, cashwatch.evidence.encoder_process\n"
        "print(sorted(m for m in ('cv2', 'numpy', 'av') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # PyAV comes when its clip opens
