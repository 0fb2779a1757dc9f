"""Opening a camera source once, with timeouts, to show a frame or the exact error.

The probe runs on the server with the server's rights, so what it may open is checked
first (`check_source`): a video file only inside the allowed folders (`[dashboard]
source_folders`, default the config's folder) and never the data folder's evidence,
database, journal or accounts; a URL only as a camera speaks (rtsp, rtsps, http, https),
never to link-local addresses (cloud metadata) and over http(s) never to this box
itself (its own web services). Anything else FFmpeg would open (file:, concat:, ftp:,
pipe: ...) is refused. Who may probe which camera is the caller's check (camera_admin).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np

from cashwatch.config import LoadedConfig
from cashwatch.util.redact import mask_credentials

URL_SCHEMES = ("rtsp", "rtsps", "http", "https")
# What the data folder holds that no camera source may name: evidence of people,
# the history, and the accounts.
PRIVATE_IN_DATA = ("clips", "snapshots", "journal", "requests", "logs", "models",
                   "sql-copy", "users.json", "sign_ins.json", "cashwatch.duckdb",
                   "cashwatch.duckdb.wal", "manager.lock")


class SourceRefused(ValueError):
    """The source may not be opened from the dashboard; the message says what may."""


def allowed_folders(loaded: LoadedConfig) -> list[Path]:
    configured = loaded.app.dashboard.source_folders or [Path(".")]
    return [(loaded.path.parent / folder.expanduser()).resolve() for folder in configured]


def check_source(source: str, loaded: LoadedConfig) -> str | int:
    """What to hand OpenCV for `source` (a resolved path, a URL, a webcam index), or
    SourceRefused naming the bad value and what would be valid."""
    source = source.strip()
    if source.isascii() and source.isdigit():
        return int(source)
    if "://" in source:
        return _check_url(source)
    return str(_check_file(source, loaded))


def _check_file(source: str, loaded: LoadedConfig) -> Path:
    path = (loaded.path.parent / Path(source).expanduser()).resolve()  # symlinks followed
    folders = allowed_folders(loaded)
    if not any(path.is_relative_to(folder) for folder in folders):
        raise SourceRefused(
            f"file {str(path)!r} is outside the folders video files may come from: "
            f"{', '.join(map(str, folders))} (`[dashboard] source_folders`)")
    data = loaded.data_dir.resolve()
    for name in PRIVATE_IN_DATA:
        if path.is_relative_to(data / name):
            raise SourceRefused(
                f"file {str(path)!r} is the data folder's {name}, never a camera source: "
                f"put video files elsewhere in {', '.join(map(str, folders))}")
    return path


def _check_url(source: str) -> str:
    shown = mask_credentials(source)
    parts = urlsplit(source)
    scheme = parts.scheme.lower()
    if scheme not in URL_SCHEMES:
        raise SourceRefused(f"{shown}: {scheme or 'no'} scheme is not a camera's; use "
                            + ", ".join(f"{s}://" for s in URL_SCHEMES))
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise SourceRefused(f"{shown}: host {host!r} does not resolve ({exc})") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        _check_address(shown, host, address, scheme)
    return source


def _check_address(shown: str, host: str, address: ipaddress.IPv4Address
                   | ipaddress.IPv6Address, scheme: str) -> None:
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        raise SourceRefused(f"{shown}: {host!r} is {address}, a link-local, multicast or "
                            "unspecified address (cloud metadata lives there), not a camera")
    if address.is_loopback and scheme in ("http", "https"):
        raise SourceRefused(f"{shown}: {host!r} is this server ({address}); over http(s) "
                            "that reaches its own web services, not a camera. A relay on "
                            "this box is probed over rtsp://")


@dataclass(frozen=True)
class ProbeResult:
    frame: np.ndarray | None  # BGR
    message: str              # what happened, credentials masked

    @property
    def ok(self) -> bool:
        return self.frame is not None


def probe_source(source: str, loaded: LoadedConfig, open_timeout_s: float = 5.0,
                 read_timeout_s: float = 3.0) -> ProbeResult:
    """Open `source` like a worker would and read one frame, if it may be opened."""
    source = source.strip()
    shown = mask_credentials(source)
    if source.startswith("demo:"):
        return ProbeResult(None, f"{shown} is synthesised by the worker; start the camera "
                                 "to see it on the Live page")
    try:
        target = check_source(source, loaded)
    except SourceRefused as exc:
        return ProbeResult(None, f"not tested: {exc}")
    if isinstance(target, str) and "://" not in target and not Path(target).is_file():
        return ProbeResult(None, f"file {shown!r} does not exist on the server")
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
