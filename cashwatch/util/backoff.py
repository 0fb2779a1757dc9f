"""Exponential back-off shared by reconnects and worker restarts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    """1, 2, 4 … capped at `max_s`; `reset()` after a success.

    >>> b = Backoff(initial_s=1, max_s=5)
    >>> [b.next_delay() for _ in range(5)]
    [1, 2, 4, 5, 5]
    """

    initial_s: float = 1.0
    max_s: float = 60.0
    failures: int = 0

    def next_delay(self) -> float:
        delay = min(self.initial_s * 2 ** self.failures, self.max_s)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0
