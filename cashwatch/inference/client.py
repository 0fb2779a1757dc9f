"""`RemotePoseModel`: the `PoseModel` of a camera worker when models run in the service.

The worker letterboxes the frame (or crop) itself, writes it into its input slot and
sends the slot's name to a service; the answer is the poses. It never blocks the
camera for long: an answer not back by the request's deadline, or a service that is
down, raises `InferenceUnavailable`, and the pipeline goes on without that look
(the camera keeps reading, buffering and finishing clips meanwhile). With several
services (one per core), requests go round the ones that answer, so a burst on one
camera is spread over every core.
"""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from cashwatch.core.poses import Poses
from cashwatch.detect.backends.preprocess import letterbox
from cashwatch.detect.model import ModelUnavailable
from cashwatch.inference.protocol import (
    ModelInfo,
    image_request,
    poses_from_bytes,
    receive_message,
    send_message,
)
from cashwatch.inference.slots import InputSlot

# After a failed connection, how long that service is left alone: it is restarting,
# and trying each sampled frame would only add connection errors to the wait.
RETRY_AFTER_S = 0.5
CONNECT_TIMEOUT_S = 1.0


def _nothing_known(index: int) -> str:
    return ""


class InferenceUnavailable(ModelUnavailable):
    """No service answered this request in time; says why (no secret in it)."""


class _Connection:
    def __init__(self, path: Path, why_down: Callable[[], str]) -> None:
        self.path = path
        self.why_down = why_down
        self.sock: socket.socket | None = None
        self.buffer = bytearray()
        self.retry_at = 0.0
        self.models: dict[str, ModelInfo] = {}

    def open(self, deadline: float) -> socket.socket:
        """The connection, made now if needed; never waits past `deadline` (wall time)."""
        if self.sock is not None:
            return self.sock
        if time.monotonic() < self.retry_at:
            raise InferenceUnavailable(f"{self.path.stem} is down")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(max(0.001, min(CONNECT_TIMEOUT_S, deadline - time.time())))
            sock.connect(str(self.path))
            self.buffer = bytearray()
            hello, _ = receive_message(sock, self.buffer)
            self.models = {
                name: ModelInfo.from_json(info) for name, info in dict(hello["models"]).items()
            }
        except (OSError, KeyError, TypeError, ValueError) as exc:
            sock.close()
            self.retry_at = time.monotonic() + RETRY_AFTER_S
            why = self.why_down() or f"{type(exc).__name__}: {exc}"
            raise InferenceUnavailable(f"{self.path.stem} is down ({why})") from exc
        self.sock = sock
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.retry_at = time.monotonic() + RETRY_AFTER_S

    def ask(
        self, header: dict[str, Any], deadline: float, late: str = ""
    ) -> tuple[dict[str, Any], bytes]:
        """Send one request on the open connection and wait for its answer.

        Answers to requests given up earlier come first on the connection; they are
        skipped. Any failure closes the connection, so a late answer is never read as
        the next request's.

        Args:
            header: The request; its "id" is what the answer must echo.
            deadline: Wall time after which the answer is no longer waited for.
            late: When it times out, what the error says was not met (e.g. "5 s
                ([model] verifier_timeout_s)"); "" for the plain socket error.

        Returns:
            The answer's header (ok) and body.

        Raises:
            InferenceUnavailable: When no answer came in time, the connection broke, or
                the service answered with an error (its words).
        """
        assert self.sock is not None, "open() first"
        try:
            self.sock.settimeout(max(0.001, deadline - time.time()))
            send_message(self.sock, header)
            while True:
                answer, body = receive_message(self.sock, self.buffer)
                if answer.get("id") == header["id"]:
                    break
        except TimeoutError as exc:
            self.close()
            if not late:
                raise InferenceUnavailable(f"{self.path.stem}: TimeoutError: {exc}") from exc
            raise InferenceUnavailable(f"{self.path.stem} gave no answer within {late}") from exc
        except (OSError, ValueError) as exc:  # reset, a service killed mid-answer
            self.close()
            raise InferenceUnavailable(f"{self.path.stem}: {type(exc).__name__}: {exc}") from exc
        if not answer.get("ok"):
            raise InferenceUnavailable(f"{self.path.stem}: {answer.get('error')}")
        return answer, body


class RemotePoseModel:
    """A pose model run by the shared inference services.

    Args:
        sockets: The services' socket paths; requests go round them.
        slot_name: This camera's input slot (made by the manager).
        timeout_s: How long one request may take before it is given up.
        fallback_name: The model's name until a service has said it, e.g. the weights.
        why_down: Given a service's number, what the manager says of it when it cannot
            be reached (its last exit), for the camera's status; "" when nothing.

    Attributes:
        name, imgsz, any_size: As the service describes its model; until one has
            answered, `fallback_name`, 640 and False (no crops before the shape is known).
        dropped: Requests given up (deadline passed, service down), since the start.
    """

    def __init__(
        self,
        sockets: list[Path],
        slot_name: str,
        timeout_s: float,
        fallback_name: str,
        why_down: Callable[[int], str] | None = None,
    ) -> None:
        if not sockets:
            raise ValueError("a remote pose model needs at least one service socket")
        self._connections = [
            _Connection(path, partial(why_down or _nothing_known, index))
            for index, path in enumerate(sockets)
        ]
        self._turn = itertools.cycle(range(len(self._connections)))
        self._slot = InputSlot.attach(slot_name)
        self._timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._info = ModelInfo(fallback_name, 640, (640, 640))
        self.dropped = 0
        self.last_batch = 0

    @property
    def name(self) -> str:
        return self._info.name

    @property
    def imgsz(self) -> int:
        return self._info.imgsz

    @property
    def any_size(self) -> bool:
        return self._info.any_size

    def predict(self, frame_bgr: np.ndarray, imgsz: int | None = None) -> Poses:
        """Find the people in a frame or a crop of one, in one of the services.

        Raises:
            InferenceUnavailable: When no service answered within the deadline.
        """
        deadline = time.time() + self._timeout_s
        errors = []
        for _ in range(len(self._connections)):  # each service at most once
            connection = self._connections[next(self._turn)]
            try:
                return self._ask(connection, frame_bgr, imgsz, deadline)
            except InferenceUnavailable as exc:
                errors.append(str(exc))
                if time.time() >= deadline:
                    break
        self.dropped += 1
        raise InferenceUnavailable("; ".join(errors))

    def _ask(
        self, connection: _Connection, frame: np.ndarray, imgsz: int | None, deadline: float
    ) -> Poses:
        connection.open(deadline)
        info = connection.models.get("pose")
        if info is None:
            connection.close()
            raise InferenceUnavailable(
                f"inference service {connection.path.name} has no pose model"
            )
        self._info = info
        side = imgsz if imgsz and info.any_size else info.imgsz
        input_hw = info.static_hw or (side, side)
        image = letterbox(frame, input_hw, auto=info.any_size)
        try:
            self._slot.write(image)
        except ValueError as exc:  # a model larger than any slot: said, not a crash loop
            raise InferenceUnavailable(str(exc)) from exc
        header = image_request(next(self._ids), "pose", self._slot.name, image, frame, deadline)
        answer, body = connection.ask(header, deadline)
        self.last_batch = int(answer.get("batch", 1))
        return poses_from_bytes(body, int(answer["n"]))

    def close(self) -> None:
        for connection in self._connections:
            connection.close()
        self._slot.close()
