"""The video model's own thread in the service that hosts it.

A video window takes the video model 0.4-1.2 s on a CPU core, fifty or more pose looks.
Run on the service's loop, each window held up every pose request that came meanwhile
(half of all cameras' requests, with two services), and cameras missed their detection
rate while the cores still had time to spare. So windows run here, one at a time, while
the loop goes on batching poses: the runtimes release the GIL while they compute, and
the operating system shares the service's cores between the two.

Only the loop's thread touches sockets: a finished window is handed back through
`finished()`, and a byte on `wake` (a socket pair the loop's selector watches) says
there is one.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

log = logging.getLogger("cashwatch.inference")

Job = TypeVar("Job")


@dataclass(frozen=True)
class Finished(Generic[Job]):
    """A window's outcome: its features, or why there are none.

    Attributes:
        job: What was handed to `start` with the window (the request).
        features: The features; None when the model failed.
        error: Why the model failed ("" when it did not).
        ms: How long the model took, milliseconds.
    """

    job: Job
    features: np.ndarray | None
    error: str
    ms: float


class VideoLane(Generic[Job]):
    """Runs `features(window)` for one window at a time on a thread of its own.

    Args:
        features: The video model's call: a window in, its features out.
    """

    def __init__(self, features: Callable[[np.ndarray], np.ndarray]) -> None:
        self._features = features
        self._todo: queue.SimpleQueue[tuple[Job, np.ndarray] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards _done
        self._done: list[Finished[Job]] = []
        self.busy = False  # set by the loop on `start`, cleared by it in `finished`
        self.wake, self._waker = socket.socketpair()
        self.wake.setblocking(False)
        self._thread = threading.Thread(target=self._work, name="video-model", daemon=True)
        self._thread.start()

    def start(self, job: Job, window: np.ndarray) -> None:
        """Hand one window over (the loop calls it only while not `busy`)."""
        self.busy = True
        self._todo.put((job, window))

    def finished(self) -> list[Finished[Job]]:
        """The windows done since the last call (the loop's, after `wake` was readable)."""
        try:
            while self.wake.recv(64):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            done, self._done = self._done, []
        if done:
            self.busy = False
        return done

    def close(self) -> None:
        """Stop the thread after the window it runs, if any."""
        self._todo.put(None)
        self._thread.join(5.0)
        self.wake.close()
        self._waker.close()

    def _work(self) -> None:
        while (item := self._todo.get()) is not None:
            job, window = item
            started = time.perf_counter()
            features: np.ndarray | None = None
            error = ""
            try:
                features = np.asarray(self._features(window), np.float32)
            except Exception as exc:  # the pose requests of every camera must go on
                log.exception("the video model failed on a window")
                error = f"the video model failed: {type(exc).__name__}: {exc}"
            ms = (time.perf_counter() - started) * 1000.0
            with self._lock:
                self._done.append(Finished(job, features, error, ms))
            try:
                self._waker.send(b"\0")
            except OSError:  # closed while this window ran: the service is stopping
                return
