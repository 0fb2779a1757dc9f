"""`RemoteVideoVerifier`: a camera's violence verifier, run by the first shared service.

The verified violence rule hands it a candidate's frames (`VerifyRequest`); one
background thread makes the window (the crop around the people, 16 frames of 224 px),
writes it into the camera's video slot, sends the slot's name to the service that hosts
the video model, and waits for the 1024 features up to `[model] verifier_timeout_s`.
The camera's loop never waits for it: `submit` hands the request over (False while one
is in flight) and `poll` returns what came back. A service down, late or without the
video model gives a `Verdict` with an error saying why (the manager's account of the
service when it cannot be reached), and the rule's pose fallback decides meanwhile.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cashwatch.detect.video_features import prepare_window
from cashwatch.inference.client import InferenceUnavailable, _Connection
from cashwatch.inference.protocol import VIDEO, features_from_bytes
from cashwatch.inference.slots import InputSlot
from cashwatch.rules.violence_verified import Verdict, VerifyRequest

log = logging.getLogger("cashwatch.worker")


def _nothing_known() -> str:
    return ""


class RemoteVideoVerifier:
    """A `VideoVerifier` (cashwatch.rules.violence_verified) in the first shared service.

    Args:
        socket_path: The socket of the service that hosts the video model.
        slot_name: This camera's video slot (made by the manager).
        timeout_s: How long one request may take before its verdict is an error.
        why_down: What the manager says of the service when it cannot be reached (its
            last exit), for the camera's status; "" when nothing.

    Attributes:
        last_ms: The round trip of the last verdict with features, milliseconds (window
            made, sent, run, answered).
    """

    def __init__(
        self,
        socket_path: Path,
        slot_name: str,
        timeout_s: float,
        why_down: Callable[[], str] | None = None,
    ) -> None:
        self._slot = InputSlot.attach(slot_name)
        self._connection = _Connection(socket_path, why_down or _nothing_known)
        self._timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._todo: queue.SimpleQueue[VerifyRequest | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards _done and _in_flight
        self._done: list[Verdict] = []
        self._in_flight = False
        self.last_ms = 0.0
        # a daemon: a worker that exits without close() is not held up by a request
        self._thread = threading.Thread(target=self._work, name="video-verifier", daemon=True)
        self._thread.start()

    def submit(self, request: VerifyRequest) -> bool:
        """Hand a request to the background thread, unless one is in flight.

        Args:
            request: The candidate and the ring's frames (never written to afterwards).

        Returns:
            True when taken (a verdict will come); False while another is in flight.
        """
        with self._lock:
            if self._in_flight:
                return False
            self._in_flight = True
        self._todo.put(request)
        return True

    def poll(self) -> list[Verdict]:
        """The verdicts that came back since the last call.

        Returns:
            Them, oldest first (at most one: one request is in flight at a time).
        """
        with self._lock:
            done, self._done = self._done, []
        return done

    def close(self) -> None:
        """Stop the thread (after the request in flight, at most its deadline) and detach."""
        self._todo.put(None)
        self._thread.join(self._timeout_s + 1.0)
        self._connection.close()
        self._slot.close()

    def _work(self) -> None:
        while (request := self._todo.get()) is not None:
            try:
                verdict = self._verify(request)
            except Exception as exc:  # the thread must live on: each request is owed a verdict
                log.exception("the video verifier failed on a request")
                verdict = Verdict(request, None, f"{type(exc).__name__}: {exc}")
            with self._lock:
                self._done.append(verdict)
                self._in_flight = False

    def _verify(self, request: VerifyRequest) -> Verdict:
        started = time.perf_counter()
        deadline = time.time() + self._timeout_s
        try:
            window = prepare_window(request.window_frames(), request.ring_box)
        except ValueError as exc:
            return Verdict(request, None, f"cannot make the video window: {exc}")
        try:
            features = self._ask(window, deadline)
        except InferenceUnavailable as exc:
            return Verdict(request, None, str(exc))
        self.last_ms = (time.perf_counter() - started) * 1000.0
        return Verdict(request, features)

    def _ask(self, window: np.ndarray, deadline: float) -> np.ndarray:
        """Send one window and wait for its features until `deadline` (wall time)."""
        connection = self._connection
        connection.open(deadline)
        self._slot.write(window)
        header = {
            "id": next(self._ids),
            "model": VIDEO,
            "slot": self._slot.name,
            "deadline": deadline,
        }
        _, body = connection.ask(
            header, deadline, late=f"{self._timeout_s:g} s ([model] verifier_timeout_s)"
        )
        try:
            return features_from_bytes(body)
        except ValueError as exc:
            connection.close()
            raise InferenceUnavailable(f"{connection.path.stem}: {exc}") from exc
