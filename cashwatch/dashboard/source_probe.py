"""Opening a camera source once, with timeouts, to show a frame or the exact error.

The probe runs on the server with the server's rights, so what it may open is checked
first (`check_source`): a video file only inside the allowed folders (`[dashboard]
source_folders`, default the config's folder) and never the data folder's evidence,
database, journal or accounts; a URL only as a camera speaks (rtsp, rtsps, http, https),
never to link-local addresses (cloud metadata) and over http(s) never to this box
itself (its own web services, on loopback or any of its interface addresses). An IPv6
form of an IPv4 address (`::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4) is judged as
that IPv4 address. Anything else FFmpeg would open (file:, concat:, ftp:, pipe: ...) is
refused. Who may probe which camera is the caller's check (camera_admin).

The source is opened in a short-lived child process: FFmpeg's options are process-wide
(an environment variable), and there it is told to follow no HTTP redirect (a camera
URL that answers 302 to an internal address must not reach it); a hung FFmpeg is killed
with the child. Residual risk: the name is resolved here and again by FFmpeg, so a DNS
name that changes its answer in between (rebinding) can still reach an address refused
here; a URL written with an IP address cannot.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
import psutil

from cashwatch.config import LoadedConfig
from cashwatch.i18n import _, language, speaking
from cashwatch.util.redact import mask_credentials

URL_SCHEMES = ("rtsp", "rtsps", "http", "https")
# What the data folder holds that no camera source may name: evidence of people,
# the history, and the accounts.
PRIVATE_IN_DATA = (
    "clips",
    "snapshots",
    "journal",
    "requests",
    "logs",
    "models",
    "sql-copy",
    "users.json",
    "sign_ins.json",
    "cashwatch.duckdb",
    "cashwatch.duckdb.wal",
    "manager.lock",
)


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
    listed = ", ".join(map(str, folders))
    if not any(path.is_relative_to(folder) for folder in folders):
        raise SourceRefused(
            _(
                "file {path} is outside the folders video files may come from: "
                "{folders} (`[dashboard] source_folders`)"
            ).format(path=repr(str(path)), folders=listed)
        )
    data = loaded.data_dir.resolve()
    for name in PRIVATE_IN_DATA:
        if path.is_relative_to(data / name):
            raise SourceRefused(
                _(
                    "file {path} is the data folder's {name}, never a camera source: "
                    "put video files elsewhere in {folders}"
                ).format(path=repr(str(path)), name=name, folders=listed)
            )
    return path


def _check_url(source: str) -> str:
    shown = mask_credentials(source)
    parts = urlsplit(source)
    scheme = parts.scheme.lower()
    if scheme not in URL_SCHEMES:
        if scheme:
            refusal = _("{source}: {scheme} scheme is not a camera's; use {schemes}")
        else:
            refusal = _("{source}: no scheme is not a camera's; use {schemes}")
        schemes = ", ".join(f"{s}://" for s in URL_SCHEMES)
        raise SourceRefused(refusal.format(source=shown, scheme=scheme, schemes=schemes))
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise SourceRefused(
            _("{source}: host {host} does not resolve ({error})").format(
                source=shown, host=repr(host), error=exc
            )
        ) from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        _check_address(shown, host, address, scheme)
    return source


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def as_ipv4(address: Address) -> Address:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4), else itself: Python's
    is_loopback / is_link_local say False for `::ffff:127.0.0.1`, yet it reaches 127.0.0.1."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour or address


def _check_address(shown: str, host: str, address: Address, scheme: str) -> None:
    address = as_ipv4(address)
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        raise SourceRefused(
            _(
                "{source}: {host} is {address}, a link-local, multicast or "
                "unspecified address (cloud metadata lives there), not a camera"
            ).format(source=shown, host=repr(host), address=address)
        )
    if scheme in ("http", "https") and _this_box(address):
        raise SourceRefused(
            _(
                "{source}: {host} is this server ({address}); over http(s) "
                "that reaches its own web services, not a camera. A relay on "
                "this box is probed over rtsp://"
            ).format(source=shown, host=repr(host), address=address)
        )


def _this_box(address: Address) -> bool:
    """Loopback, or an address of one of this machine's interfaces (its services listen
    on 0.0.0.0 too, so its LAN address reaches them as well as 127.0.0.1 does)."""
    if address.is_loopback:
        return True
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(ValueError):  # not an IP address
                    if as_ipv4(ipaddress.ip_address(entry.address.split("%")[0])) == address:
                        return True
    return False


@dataclass(frozen=True)
class ProbeResult:
    frame: np.ndarray | None  # BGR
    message: str  # what happened, credentials masked

    @property
    def ok(self) -> bool:
        return self.frame is not None


def probe_source(
    source: str, loaded: LoadedConfig, open_timeout_s: float = 5.0, read_timeout_s: float = 3.0
) -> ProbeResult:
    """Open `source` like a worker would and read one frame, if it may be opened."""
    source = source.strip()
    shown = mask_credentials(source)
    if source.startswith("demo:"):
        return ProbeResult(
            None,
            _(
                "{source} is synthesised by the worker; start the camera to see it on the Live page"
            ).format(source=shown),
        )
    try:
        target = check_source(source, loaded)
    except SourceRefused as exc:
        return ProbeResult(None, _("not tested: {error}").format(error=exc))
    if isinstance(target, str) and "://" not in target and not Path(target).is_file():
        return ProbeResult(
            None, _("file {source} does not exist on the server").format(source=repr(shown))
        )
    return _probe_in_child(target, shown, open_timeout_s, read_timeout_s)


# FFmpeg >= 7.1 (OpenCV 4.12's wheels bundle 8.0): a 3xx is an error, not followed.
NO_REDIRECTS = "max_redirects;0"
CHILD_GRACE_S = 10.0  # starting Python and importing OpenCV, on a busy box


def _probe_in_child(
    target: str | int, shown: str, open_timeout_s: float, read_timeout_s: float
) -> ProbeResult:
    """Run `_open_and_read` in a child process. The source goes through stdin, never
    argv: a URL's password would be readable by any local user in /proc/<pid>/cmdline.
    The child words its messages in the language in effect here."""
    env = dict(os.environ)
    extra = env.get("OPENCV_FFMPEG_CAPTURE_OPTIONS")
    env["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = f"{extra}|{NO_REDIRECTS}" if extra else NO_REDIRECTS
    request = json.dumps(
        {
            "target": target,
            "open_s": open_timeout_s,
            "read_s": read_timeout_s,
            "language": language(),
        }
    )
    limit_s = open_timeout_s + read_timeout_s + CHILD_GRACE_S
    try:
        done = subprocess.run(
            [sys.executable, "-m", __name__],
            input=request.encode(),
            capture_output=True,
            env=env,
            timeout=limit_s,
            check=False,
        )
    except subprocess.TimeoutExpired:  # run() has killed it
        return ProbeResult(
            None,
            _("{source}: no answer within {seconds} s; the test was stopped").format(
                source=shown, seconds=f"{limit_s:g}"
            ),
        )
    header, _newline, body = done.stdout.partition(b"\n")
    if done.returncode != 0 or not header:
        return ProbeResult(
            None,
            _("testing {source} failed (exit {code}): {error}").format(
                source=shown,
                code=done.returncode,
                error=done.stderr.decode(errors="replace")[-300:].strip(),
            ),
        )
    answer = json.loads(header)
    frame = np.load(io.BytesIO(body), allow_pickle=False) if answer["frame"] else None
    return ProbeResult(frame, answer["message"].replace("{shown}", shown))


def _open_and_read(
    target: str | int, open_timeout_s: float, read_timeout_s: float
) -> tuple[np.ndarray | None, str]:
    """In the child: one frame and what happened; `{shown}` stands for the masked source
    (the parent fills it in, so the child never prints a password)."""
    # Without these a hung RTSP server blocks each read for 30 s (FACTS.md).
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(read_timeout_s * 1000),
    ]
    capture = cv2.VideoCapture(target, cv2.CAP_ANY, params)
    try:
        if not capture.isOpened():
            return None, _(
                "cannot open {shown} (unreachable, wrong path or credentials, a "
                "redirect, or no answer within {seconds} s)"
            ).format(shown="{shown}", seconds=f"{open_timeout_s:g}")
        ok, frame = capture.read()
        if not ok or frame is None:
            return None, _("{shown} opened but sent no frame within {seconds} s").format(
                shown="{shown}", seconds=f"{read_timeout_s:g}"
            )
        height, width = frame.shape[:2]
        fps = capture.get(cv2.CAP_PROP_FPS)
        return frame, (
            f"{{shown}}: {width}x{height}" + (f", {fps:.1f} fps" if fps and fps > 0 else "")
        )
    finally:
        capture.release()


def _child_main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    with speaking(str(request.get("language") or "en")):  # the parent's language
        frame, message = _open_and_read(request["target"], request["open_s"], request["read_s"])
    out = sys.stdout.buffer
    out.write(json.dumps({"frame": frame is not None, "message": message}).encode() + b"\n")
    if frame is not None:
        np.save(out, frame, allow_pickle=False)
    out.flush()


if __name__ == "__main__":
    _child_main()
