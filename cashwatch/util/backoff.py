"""Exponential back-off shared by reconnects and worker restarts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """1, 2, 4 … capped at `max_s`; `reset()` after a success.

    `jitter` takes up to that fraction off each delay at random (a delay lies in
    [d·(1-jitter), d], so the cap still holds): cameras behind one recorder or switch
    that lost it together then do not all reconnect at the same instant, every time.

    >>> b = Backoff(initial_s=1, max_s=5)
    >>> [b.next_delay() for _ in range(5)]
    [1.0, 2.0, 4.0, 5.0, 5.0]
    >>> b = Backoff(initial_s=1, max_s=5, jitter=0.25)
    >>> all(0.75 * d <= b.next_delay() <= d for d in [1, 2, 4, 5, 5])
    True
    """

    initial_s: float = 1.0
    max_s: float = 60.0
    failures: int = 0
    jitter: float = 0.0
    # seeded from the OS per instance, so processes spawned together draw differently
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError(f"jitter must be in [0, 1), not {self.jitter}")

    def next_delay(self) -> float:
        delay = min(self.initial_s * 2**self.failures, self.max_s)
        self.failures += 1
        if self.jitter:
            delay *= 1.0 - self.jitter * self.rng.random()
        return float(delay)

    def reset(self) -> None:
        self.failures = 0
