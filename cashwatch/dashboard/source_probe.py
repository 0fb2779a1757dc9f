"""Opening a camera source once, with timeouts, to show a frame or the exact error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cashwatch.util.redact import mask_credentials


@dataclass(frozen=True)
class ProbeResult:
    frame: np.ndarray | None  # BGR
    message: str              # what happened, credentials masked

    @property
    def ok(self) -> bool:
        return self.frame is not None


def probe_source(source: str, open_timeout_s: float = 5.0,
                 read_timeout_s: float = 3.0) -> ProbeResult:
    """Open `source` like a worker would and read one frame."""
    source = source.strip()
    shown = mask_credentials(source)
    if source.startswith("demo:"):
        return ProbeResult(None, f"{shown} is synthesised by the worker; start the camera "
                                 "to see it on the Live page")
    if "://" not in source and not source.isdigit() and not Path(source).is_file():
        return ProbeResult(None, f"file {shown!r} does not exist on the server")
    target: str | int = int(source) if source.isdigit() else source
    # Without these a hung RTSP server blocks each read for 30 s (FACTS.md).
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout_s * 1000),
              cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout_s * 1000)]
    capture = cv2.VideoCapture(target, cv2.CAP_ANY, params)
    try:
        if not capture.isOpened():
            return ProbeResult(None, f"cannot open {shown} (unreachable, wrong path or "
                                     f"credentials, or no answer within {open_timeout_s:g} s)")
        ok, frame = capture.read()
        if not ok or frame is None:
            return ProbeResult(None, f"{shown} opened but sent no frame within "
                                     f"{read_timeout_s:g} s")
        height, width = frame.shape[:2]
        fps = capture.get(cv2.CAP_PROP_FPS)
        return ProbeResult(frame, f"{shown}: {width}x{height}"
                                  + (f", {fps:.1f} fps" if fps and fps > 0 else ""))
    finally:
        capture.release()
