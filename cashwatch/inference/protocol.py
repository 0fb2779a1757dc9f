"""What crosses a service's Unix socket, and where the sockets live.

A message is two little-endian u32 lengths, a JSON header, then a binary body:

- on connecting, the service sends `{"models": {"pose": ModelInfo}}` (no body);
- a request: `{"id", "model", "slot", "h", "w", "fh", "fw", "deadline"}`: the
  letterboxed input is `h`x`w`x3 at the start of shared-memory segment `slot`, made
  from a frame (or crop) of `fh`x`fw`; `deadline` is wall time;
- an answer: `{"id", "ok", "n", "batch", "ms"}` with the poses as float32 bytes, or
  `{"id", "ok": false, "error"}` for a request dropped or failed;
- a video request (the violence verifier, `model` = "video"): `{"id", "model", "slot",
  "deadline"}`, the prepared (16, 224, 224, 3) uint8 window at the start of the camera's
  video slot; its answer `{"id", "ok", "ms"}` with the 1024 video features as float32
  bytes. Only the first service hosts the video model; the others answer with an error
  that says so;
- a fire request (a user's fire model confirming the fire rule, `model` = "fire"):
  `{"id", "model", "slot", "h", "w", "fh", "fw", "deadline", "weights"}`, the frame
  letterboxed at the start of the camera's input slot as for a pose request, `weights`
  naming which fire model; its answer `{"id", "ok", "conf", "ms"}`, the highest fire,
  flame or smoke confidence. Fire models live in the first service too.

Only names and small results cross the socket (a person is 56 floats): the pixels stay
in shared memory. Sockets are files in an owner-only folder, and the service also checks
the peer's uid (SO_PEERCRED): another account on the machine cannot use it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cashwatch.core.poses import Poses
from cashwatch.detect.video_features import VIDEO_SIZE, VIDEO_WINDOW
from cashwatch.util.files import make_private_dir

_LENGTHS = struct.Struct("<II")
MAX_HEADER = 64 * 1024
MAX_BODY = 16 * 2**20  # 300 people of 56 floats is 67 KB; anything near this is garbage
# sun_path holds 108 bytes; a data folder deeper than this gets its sockets in /tmp
_MAX_SOCKET_PATH = 100
KEYPOINTS = 17
FLOATS_PER_PERSON = 4 + 1 + KEYPOINTS * 3
VIDEO = "video"  # the request kind of the violence verifier's windows
VIDEO_SERVICE = 0  # the one service that hosts the video model (loaded once per machine)
FIRE = "fire"  # the request kind of a user's fire model
FIRE_SERVICE = VIDEO_SERVICE  # fire models are loaded once per machine, in the same one
VIDEO_WINDOW_SHAPE = (VIDEO_WINDOW, VIDEO_SIZE, VIDEO_SIZE, 3)
VIDEO_FEATURES = 1024


class ProtocolError(ValueError):
    """The other end sent something that is not a message of this protocol."""


@dataclass(frozen=True)
class ModelInfo:
    """What a camera needs to know of a model the service runs.

    Attributes:
        name: Stored with every event, e.g. "yolo11n-pose@openvino-f32-640".
        imgsz: The longest input side, pixels.
        static_hw: The fixed input (height, width) of a static-shape export; None when
            any stride-multiple size runs (then crops may run smaller).
    """

    name: str
    imgsz: int
    static_hw: tuple[int, int] | None

    @property
    def any_size(self) -> bool:
        return self.static_hw is None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelInfo:
        static = data.get("static_hw")
        return cls(
            name=str(data["name"]),
            imgsz=int(data["imgsz"]),
            static_hw=(int(static[0]), int(static[1])) if static else None,
        )


def socket_dir(data_dir: Path) -> Path:
    """The owner-only folder of this installation's service sockets.

    `<data_dir>/run` when its socket paths fit sun_path, else a folder of this user's
    in the temp folder, named after the data folder so two installations never meet.
    """
    folder = Path(data_dir) / "run"
    if len(str(folder.resolve())) + len("/inference-99.sock") > _MAX_SOCKET_PATH:
        digest = hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:10]
        folder = Path(tempfile.gettempdir()) / f"cashwatch-{os.getuid()}-{digest}"
    make_private_dir(folder)
    if folder.stat().st_uid != os.getuid():  # someone else's folder of that name: refuse
        raise PermissionError(f"{folder} belongs to another account; remove it")
    return folder


def socket_path(data_dir: Path, index: int) -> Path:
    """Where service `index` listens."""
    return socket_dir(data_dir) / f"inference-{index}.sock"


def image_request(
    request_id: int,
    model: str,
    slot: str,
    image: np.ndarray,
    frame: np.ndarray,
    deadline: float,
    **extra: Any,
) -> dict[str, Any]:
    """The header of a request whose input is a letterboxed image in the camera's slot.

    Args:
        request_id: The camera's number for it (the answer echoes it).
        model: "pose" or "fire".
        slot: The input slot's segment name.
        image: The letterboxed input written there (its shape is sent).
        frame: The frame (or crop) it was made from (its shape is sent).
        deadline: Wall time after which the camera no longer waits.
        **extra: Fields of this kind of request (a fire request's "weights").

    Returns:
        The header, as the module's docstring lists its fields.
    """
    return {
        "id": request_id,
        "model": model,
        "slot": slot,
        "h": image.shape[0],
        "w": image.shape[1],
        "fh": frame.shape[0],
        "fw": frame.shape[1],
        "deadline": deadline,
        **extra,
    }


def send_message(sock: socket.socket, header: dict[str, Any], body: bytes = b"") -> None:
    """Send one message whole (blocking)."""
    raw = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(_LENGTHS.pack(len(raw), len(body)) + raw + body)


def parse_lengths(prefix: bytes) -> tuple[int, int]:
    """The header's and body's lengths; ProtocolError when they cannot be a message."""
    header_len, body_len = _LENGTHS.unpack(prefix)
    if header_len > MAX_HEADER or body_len > MAX_BODY:
        raise ProtocolError(f"message of {header_len} + {body_len} bytes is too long")
    return header_len, body_len


def take_message(buffer: bytearray) -> tuple[dict[str, Any], bytes] | None:
    """Cut the first whole message off `buffer`; None while it is incomplete."""
    if len(buffer) < _LENGTHS.size:
        return None
    header_len, body_len = parse_lengths(bytes(buffer[: _LENGTHS.size]))
    end = _LENGTHS.size + header_len + body_len
    if len(buffer) < end:
        return None
    try:
        header = json.loads(bytes(buffer[_LENGTHS.size : _LENGTHS.size + header_len]))
    except ValueError as exc:
        raise ProtocolError(f"header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise ProtocolError("header is not a JSON object")
    body = bytes(buffer[_LENGTHS.size + header_len : end])
    del buffer[:end]
    return header, body


def receive_message(sock: socket.socket, buffer: bytearray) -> tuple[dict[str, Any], bytes]:
    """Block (up to the socket's timeout) until one whole message has come.

    Raises:
        ConnectionError: When the other end closed the connection.
        TimeoutError: When the socket's timeout passed first.
    """
    while (message := take_message(buffer)) is None:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the inference service closed the connection")
        buffer += chunk
    return message


def poses_to_bytes(poses: Poses) -> bytes:
    """Poses as one float32 array: n x (box 4, score 1, keypoints 51)."""
    rows = np.concatenate(
        [
            np.asarray(poses.xyxy, np.float32).reshape(-1, 4),
            np.asarray(poses.conf, np.float32).reshape(-1, 1),
            np.asarray(poses.keypoints, np.float32).reshape(-1, KEYPOINTS * 3),
        ],
        axis=1,
    )
    return rows.tobytes()


def poses_from_bytes(body: bytes, count: int) -> Poses:
    """The inverse of `poses_to_bytes`; ProtocolError when the sizes disagree.

    >>> p = Poses(np.array([[1, 2, 3, 4]]), [0.5], np.ones((1, 17, 3)))
    >>> q = poses_from_bytes(poses_to_bytes(p), 1)
    >>> q.xyxy.tolist(), q.conf.tolist(), q.keypoints.shape
    ([[1.0, 2.0, 3.0, 4.0]], [0.5], (1, 17, 3))
    """
    rows = np.frombuffer(body, np.float32)
    if rows.size != count * FLOATS_PER_PERSON:
        raise ProtocolError(f"{rows.size} floats for {count} people")
    rows = rows.reshape(count, FLOATS_PER_PERSON)
    return Poses(
        rows[:, :4].copy(), rows[:, 4].copy(), rows[:, 5:].reshape(count, KEYPOINTS, 3).copy()
    )


def features_from_bytes(body: bytes) -> np.ndarray:
    """The video features of an answer; ProtocolError when they are not 1024 float32.

    >>> features_from_bytes(np.arange(1024, dtype=np.float32).tobytes())[-1]
    np.float32(1023.0)
    """
    features = np.frombuffer(body, np.float32)
    if features.shape != (VIDEO_FEATURES,):
        raise ProtocolError(f"{features.size} video features, not {VIDEO_FEATURES}")
    return features.copy()
