"""Opening and reading one camera source: RTSP, HTTP, a file, a webcam or a demo scene.

Everything that can block has a timeout: without `CAP_PROP_READ_TIMEOUT_MSEC` a hung
RTSP server blocks one `read()` for 30 s (FACTS.md). Files and demo scenes loop and
are paced at their frame rate so they behave like live cameras.
"""

from __future__ import annotations

import os
import socket
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import cv2
import numpy as np

from cashwatch.config.camera import source_kind
from cashwatch.util.redact import mask_credentials
from cashwatch.worker.base import WORKER_ENV_DEFAULTS

# Also for the processes that open a source without being a camera worker (the
# dashboard's probe); a worker has them from its start (cashwatch.worker.base).
for _name, _value in WORKER_ENV_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

DEFAULT_FPS = 15.0


class SourceError(Exception):
    """The source cannot be opened or read; the message is shown to the operator."""


class VideoSource(Protocol):
    def isOpened(self) -> bool: ...  # OpenCV spells it so

    def read(self) -> tuple[bool, Any]: ...

    def get(self, prop: int) -> float: ...

    def release(self) -> None: ...


def open_source(
    source: str, *, open_timeout_s: float = 5.0, read_timeout_s: float = 3.0
) -> VideoSource:
    """Open a source or raise SourceError saying why (credentials masked)."""
    kind = source_kind(source)
    shown = mask_credentials(source)
    if kind == "demo":
        from cashwatch.demo.source import open_demo

        return open_demo(source.removeprefix("demo:"))
    target = str(existing_file(source)) if kind == "file" else source
    try:
        capture = _video_capture(kind, target, open_timeout_s, read_timeout_s)
    except (cv2.error, ValueError, OverflowError, UnicodeError) as exc:
        # OpenCV refuses some arguments by raising (a huge webcam index, a path it cannot
        # convert); the reader retries a SourceError and would die on anything else.
        detail = " ".join(mask_credentials(str(exc)).split())  # OpenCV's run over lines
        raise SourceError(f"OpenCV cannot open {shown}: {detail}") from None
    if not capture.isOpened():
        capture.release()
        if kind == "file":
            raise SourceError(f"not a readable video: {shown} (OpenCV/FFmpeg cannot decode it)")
        if kind == "webcam":
            raise SourceError(f"webcam {source} cannot be opened (no such device?)")
        raise SourceError(
            f"cannot open {shown}: {diagnose_network(source, timeout_s=min(open_timeout_s, 3.0))}"
        )
    return capture


def _video_capture(
    kind: str, target: str, open_timeout_s: float, read_timeout_s: float
) -> VideoSource:
    if kind == "webcam":
        return cv2.VideoCapture(int(target))
    # One decoder thread: with FFmpeg's default threading a hung stream needs three
    # timed-out reads (9 s) instead of two before read() gives up (measured here).
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(read_timeout_s * 1000),
        cv2.CAP_PROP_N_THREADS,
        1,
    ]
    return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)


def existing_file(source: str) -> Path:
    """The video file a file source names, or SourceError saying why not.

    A name typed in the config (NFC, as keyboards on Linux and Windows produce it) and
    the same name copied from a Mac (NFD: Korean syllables and accents decomposed)
    look identical but are different bytes, so the file "is not found" although it is
    listed right there: the other normalisation is tried before giving up.
    """
    path = Path(source).expanduser()
    candidates = [path, *(Path(unicodedata.normalize(form, str(path))) for form in ("NFC", "NFD"))]
    found = next((candidate for candidate in candidates if candidate.exists()), None)
    if found is None:
        raise SourceError(f"file not found: {path}")
    if not found.is_file():
        raise SourceError(f"not a file: {found}")
    return found


DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}


def diagnose_network(source: str, *, timeout_s: float) -> str:
    """Why a network source did not open, as far as DNS and a TCP connect can tell.

    OpenCV only says "not opened"; an operator needs to know whether to fix the name,
    the camera's power or the path. Runs only after a failed open, so it costs nothing
    while cameras work.
    """
    parts = urlsplit(source)
    host = parts.hostname or ""
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 554)
    except ValueError:
        return f"the URL's port is not a number (in {mask_credentials(source)})"
    if not host:
        return "the URL has no host"
    try:
        address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4]
    except (socket.gaierror, UnicodeError) as exc:
        return f"unknown host {host!r} ({exc})"
    try:
        with socket.create_connection((str(address[0]), int(address[1])), timeout=timeout_s):
            pass
    except ConnectionRefusedError:
        return f"connection refused by {host}:{port} (camera off or wrong port?)"
    except TimeoutError:
        return f"no answer from {host}:{port} within {timeout_s:g} s"
    except OSError as exc:
        return f"cannot reach {host}:{port} ({exc.strerror or exc})"
    return (
        f"{host}:{port} accepts connections but the stream does not open "
        "(wrong path or credentials, or the stream hangs)"
    )


@dataclass
class Pacer:
    """Sleeps so frames come out at `fps`, as from a live camera.

    Falls back in step after a stall (rather than bursting to catch up), which is what
    a live camera does too: frames missed while nobody read are gone.
    """

    fps: float
    _next: float = 0.0

    def wait(self) -> None:
        now = time.monotonic()
        if self._next == 0.0 or now - self._next > 1.0:
            self._next = now
        delay = self._next - now
        if delay > 0:
            time.sleep(delay)  # a timer, not a condition: the frame is due at this time
        self._next += 1.0 / self.fps


class RateMeter:
    """Exponentially smoothed events per second, from timestamps."""

    def __init__(self, smoothing_s: float = 2.0) -> None:
        self._smoothing_s = smoothing_s
        self._last: float | None = None
        self.rate = 0.0

    def tick(self, ts: float) -> None:
        if self._last is not None:
            interval = max(ts - self._last, 1e-6)
            alpha = 1.0 if self.rate == 0.0 else min(1.0, interval / self._smoothing_s)
            self.rate += alpha * (1.0 / interval - self.rate)
        self._last = ts

    def decayed(self, now: float) -> float:
        """The rate, falling towards 0 when events stop coming."""
        if self._last is None:
            return 0.0
        idle = now - self._last
        return self.rate if idle < 2.0 else min(self.rate, 1.0 / idle)


def nominal_fps(capture: VideoSource) -> float:
    """The container's frame rate, used only to pace files; live rates are measured."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    return float(fps) if 1.0 <= fps <= 120.0 else DEFAULT_FPS


def frame_ok(frame: Any) -> bool:
    return isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.size > 0
