"""Real RTSP cameras for tests: a GStreamer server on loopback that can die, hang and come back.

A pytest plugin: ``pytest_plugins = ["tests.support.rtsp"]`` in ``tests/conftest.py`` gives

* ``rtsp_clip`` (session): a short H.264 MP4 cut from real footage, made once per session;
* ``rtsp_server`` (factory): ``rtsp_server({"cam1": rtsp_clip.path})`` -> a started
  :class:`RtspServer`, killed at teardown. It also sets ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` for the
  test (inherited by any worker process the test starts).

The server is ``rtsp_server.py`` run by Debian's ``/usr/bin/python3`` (GStreamer's bindings are
not in the venv). Without it the tests skip, or fail when ``CASHWATCH_REQUIRE_RTSP=1`` (CI).

Example (inside a test)::

    server = rtsp_server({"cam1": rtsp_clip.path})
    capture = open_capture(server.url("cam1"))
    server.pause()    # the camera hangs: sockets stay open, no data
    server.resume()
    server.stop()     # the camera dies: connections reset
    server.restart()  # it comes back on the same URL
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np
import psutil
import pytest

from tests.support import skip_unless_required

SYSTEM_PYTHON = Path("/usr/bin/python3")
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
REQUIRE_ENV = "CASHWATCH_REQUIRE_RTSP"

# FFmpeg options OpenCV reads from the environment when a capture opens (not at import).
CAPTURE_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
CAPTURE_OPTIONS = "rtsp_transport;tcp"
# Without the timeouts a hung camera blocks each read() for 30 s. With them, a camera that
# hangs mid-stream shows as a read() that blocks for the read timeout and still returns a
# stale frame (the one FFmpeg's H.264 parser held back), then one that blocks again and
# returns False: 2 x 3 s. One decoder thread, because frame threading (by default one thread
# per core) holds more frames back and each costs another 3 s read (9 s on 2 cores). After
# that False the capture does not read again even when the camera resumes (its decoder was
# drained): open a new capture. A read that took the read timeout already means a stall.
CAPTURE_PARAMS = (
    cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
    5000,
    cv2.CAP_PROP_READ_TIMEOUT_MSEC,
    3000,
    cv2.CAP_PROP_N_THREADS,
    1,
)


# --- availability -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def rtsp_unavailable_reason() -> str | None:
    """Why the RTSP server cannot run here, or None when it can (checked once per session)."""
    if not SYSTEM_PYTHON.exists():
        return f"{SYSTEM_PYTHON} is missing (install python3-gst-1.0)"
    try:
        result = subprocess.run(
            [str(SYSTEM_PYTHON), str(SERVER_SCRIPT), "--check"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        return f"{SERVER_SCRIPT.name} --check did not answer in 30 s"
    if result.returncode != 0:
        detail = (result.stdout + result.stderr).strip().splitlines()
        return (
            "GStreamer RTSP server unavailable (apt-get install python3-gst-1.0 "
            "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad): "
            + (detail[-1] if detail else f"exit {result.returncode}")
        )
    return None


def require_rtsp() -> None:
    """Skip the calling test without the RTSP server; fail in CI (CASHWATCH_REQUIRE_RTSP=1)."""
    skip_unless_required(rtsp_unavailable_reason(), REQUIRE_ENV)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(
    condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.02
) -> None:
    """Poll `condition` until it holds; TimeoutError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout_s} s")
        time.sleep(poll_s)


def accepts_tcp(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# --- the server process -----------------------------------------------------------------------


class RtspServer:
    """One ``rtsp_server.py`` process serving `mounts` (name -> H.264 MP4) on 127.0.0.1:`port`.

    The port stays the same across :meth:`restart`, so clients can reconnect to the same URL.
    """

    def __init__(
        self,
        mounts: Mapping[str, Path],
        *,
        port: int | None = None,
        log_path: Path | None = None,
        ready_timeout_s: float = 15.0,
    ) -> None:
        if not mounts:
            raise ValueError("RtspServer needs at least one mount, e.g. {'cam1': Path('a.mp4')}")
        self.mounts = {name: Path(path) for name, path in mounts.items()}
        self.port = port if port is not None else free_port()
        self.log_path = log_path
        self.ready_timeout_s = ready_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, mount: str) -> str:
        if mount not in self.mounts:
            raise KeyError(f"no mount {mount!r}; this server has {sorted(self.mounts)}")
        return f"rtsp://127.0.0.1:{self.port}/{mount}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the RTSP server is not running (call start())")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> RtspServer:
        """Start the process and return once it printed READY and accepts TCP connections."""
        if self.running:
            raise RuntimeError(f"the RTSP server on port {self.port} is already running")
        command = [str(SYSTEM_PYTHON), str(SERVER_SCRIPT), "--port", str(self.port)]
        for name, path in self.mounts.items():
            command += ["--mount", f"{name}={path}"]
        # stdin is a pipe the server watches: if this process dies without stop(), the pipe
        # closes and the server exits instead of holding its port. stderr goes to a file:
        # GStreamer warnings must never fill a pipe nobody reads.
        with open(self.log_path or os.devnull, "ab") as log:  # the child keeps its own copy
            self._process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        deadline = time.monotonic() + self.ready_timeout_s
        output = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            while b"\n" not in output:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"RTSP server printed no READY line in "
                        f"{self.ready_timeout_s} s{self._log_tail()}"
                    )
                if selector.select(timeout=left):
                    chunk = os.read(self._process.stdout.fileno(), 4096)
                    if not chunk:  # the process closed stdout: it exited
                        self._process.wait(timeout=5)
                        raise RuntimeError(
                            f"RTSP server exited with {self._process.returncode} "
                            f"before READY{self._log_tail()}"
                        )
                    output += chunk
        if not output.startswith(b"READY"):
            raise RuntimeError(f"RTSP server said {output!r} instead of READY{self._log_tail()}")
        wait_until(
            lambda: accepts_tcp(self.port),
            max(deadline - time.monotonic(), 0.5),
            f"RTSP server accepting TCP on 127.0.0.1:{self.port}",
        )

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "; stderr: " + self.log_path.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        """Kill the process (SIGKILL, also when paused): the camera dies, its sockets close."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()

    def pause(self) -> None:
        """SIGSTOP: connections stay open but no data flows, like a hung camera."""
        os.kill(self.pid, signal.SIGSTOP)
        self._wait_status(lambda status: status == psutil.STATUS_STOPPED, "stopped")

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`: the stream flows again on the same connections."""
        os.kill(self.pid, signal.SIGCONT)
        self._wait_status(lambda status: status != psutil.STATUS_STOPPED, "running")

    def _wait_status(self, ok: Callable[[str], bool], what: str) -> None:
        process = psutil.Process(self.pid)
        wait_until(lambda: ok(process.status()), 5.0, f"RTSP server pid {self.pid} {what}")

    def restart(self) -> RtspServer:
        """Kill and start again on the same port (the camera reboots)."""
        self.stop()
        return self.start()

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# --- test media -------------------------------------------------------------------------------

STAMP_BITS = 8
STAMP_BLOCK_PX = 16


def stamp_index(rgb: np.ndarray, index: int) -> None:
    """Write `index` into the top-left corner as 8 black/white 16 px blocks (MSB first).

    Blocks that large survive H.264 compression, so a client can tell which frame of the file
    it got (:func:`read_stamp`) and see the stream loop.
    """
    if not 0 <= index < 2**STAMP_BITS:
        raise ValueError(f"frame index {index} does not fit {STAMP_BITS} bits (0..255)")
    for bit in range(STAMP_BITS):
        on = (index >> (STAMP_BITS - 1 - bit)) & 1
        x = bit * STAMP_BLOCK_PX
        rgb[:STAMP_BLOCK_PX, x : x + STAMP_BLOCK_PX] = 255 if on else 0


def read_stamp(frame: np.ndarray) -> int:
    """The index :func:`stamp_index` wrote into `frame` (BGR or RGB, as decoded)."""
    index = 0
    half = STAMP_BLOCK_PX // 2
    for bit in range(STAMP_BITS):
        x = bit * STAMP_BLOCK_PX
        # The block's centre: its edges blur into the picture after compression.
        centre = frame[half - 4 : half + 4, x + half - 4 : x + half + 4]
        index = (index << 1) | int(centre.mean() > 127)
    return index


@dataclass(frozen=True)
class H264Clip:
    """An H.264 MP4 the server can packetise as is; `frames` is what one pass of it holds.

    Frame i of the file carries i in its corner (:func:`read_stamp`).
    """

    path: Path
    frames: int
    fps: int
    size_wh: tuple[int, int]


def make_h264_clip(
    source: Path,
    target: Path,
    *,
    frames: int = 40,
    fps: int = 20,
    size_wh: tuple[int, int] = (384, 216),
    keyframe_every: int = 10,
) -> H264Clip:
    """Re-encode the first `frames` frames of `source` as H.264 Main, no B-frames, MP4.

    Regular keyframes let a client that joins (or rejoins) mid-stream start decoding within
    `keyframe_every` frames; no B-frames keeps the decoder from holding frames back.
    """
    if not 1 <= frames <= 2**STAMP_BITS or fps < 1 or keyframe_every < 1:
        raise ValueError(
            f"frames={frames}, fps={fps}, keyframe_every={keyframe_every}: "
            f"frames must be in 1..{2**STAMP_BITS}, the others >= 1"
        )
    width, height = size_wh
    written = 0
    with (
        av.open(str(source)) as reader,
        av.open(str(target), "w", options={"movflags": "+faststart"}) as writer,
    ):
        stream = writer.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {
            "preset": "veryfast",
            "profile": "main",
            "bf": "0",
            "g": str(keyframe_every),
            "keyint_min": str(keyframe_every),
            "sc_threshold": "0",
        }
        for frame in reader.decode(video=0):
            if written == frames:
                break
            rgb = frame.to_ndarray(width=width, height=height, format="rgb24")
            stamp_index(rgb, written)
            out = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            out.pts, out.time_base = written, Fraction(1, fps)
            writer.mux(stream.encode(out))
            written += 1
        writer.mux(stream.encode(None))
    if written < frames:
        raise ValueError(f"{source} has only {written} frames, {frames} were asked for")
    return H264Clip(target, written, fps, size_wh)


def open_capture(url: str) -> cv2.VideoCapture:
    """An OpenCV FFmpeg capture with the timeouts above (needs CAPTURE_OPTIONS_ENV set)."""
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, list(CAPTURE_PARAMS))


# --- fixtures ---------------------------------------------------------------------------------

CLIP_SOURCE = "video/w1_indoor_people_one_by_one__intel.mp4"


@pytest.fixture(scope="session")
def rtsp_clip(tmp_path_factory: pytest.TempPathFactory) -> H264Clip:
    """2 s (40 frames, 20 fps, 384x216) of real indoor footage as H.264 MP4, made once."""
    from tests.conftest import require_media  # the media policy lives there

    source = require_media(CLIP_SOURCE)
    return make_h264_clip(source, tmp_path_factory.mktemp("rtsp") / "clip.mp4")


@pytest.fixture
def rtsp_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., RtspServer]]:
    """Factory: ``rtsp_server({"cam1": path}, port=None)`` -> a started RtspServer.

    Every server it made is killed at teardown, whatever state the test left it in.
    """
    require_rtsp()
    monkeypatch.setenv(CAPTURE_OPTIONS_ENV, CAPTURE_OPTIONS)
    servers: list[RtspServer] = []

    def make(mounts: Mapping[str, Path], *, port: int | None = None) -> RtspServer:
        server = RtspServer(
            mounts, port=port, log_path=tmp_path / f"rtsp-server-{len(servers)}.log"
        )
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()
