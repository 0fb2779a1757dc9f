"""Sampled frames handed from the worker's reading thread to its processing thread."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class SampleMailbox:
    """Sampled frames handed from the reading thread to the processing thread.

    Bounded: `put` never waits; when `capacity` frames already wait, the oldest is dropped
    (and `put` says so). Two places, not one: workers sharing a core sometimes infer at the
    same moment and one frame then takes longer than the sampling interval; a second place
    absorbs that jitter instead of losing a detection (the walking benchmark lost ~5 % of
    samples at ~55 % CPU per core with one place). Oldest first, so tracks and speeds see
    frames in order.

    >>> box = SampleMailbox(capacity=2)
    >>> [box.put(f"frame{i}", float(i)) for i in range(3)]
    [False, False, True]
    >>> box.take(0.0), box.take(0.0), box.take(0.0)
    (('frame1', 1.0), ('frame2', 2.0), None)
    """

    def __init__(self, capacity: int = 2) -> None:
        if capacity < 1:
            raise ValueError(f"mailbox capacity must be at least 1, got {capacity}")
        self._items: deque[tuple[Any, float]] = deque()
        self._capacity = capacity
        self._cond = threading.Condition()

    def put(self, frame: Any, ts: float) -> bool:
        """Add a sampled frame; True when an older one had to be dropped for it."""
        with self._cond:
            dropped = len(self._items) >= self._capacity
            if dropped:
                self._items.popleft()
            self._items.append((frame, ts))
            self._cond.notify()
            return dropped

    def take(self, timeout_s: float) -> tuple[Any, float] | None:
        """The oldest waiting frame, waiting up to `timeout_s` for one; None if none came."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout_s)
            return self._items.popleft() if self._items else None
