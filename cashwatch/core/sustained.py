"""Sustained evidence over a window, one event per episode: what every rule's trigger shares.

A rule sees, on each detection or analysed frame, whether its *evidence* holds (wrists
met, a flame flickered, the view was covered, the fight score was high). It raises an
event when the evidence has been *sustained* over a window, and then no other until the
*episode* is over. Two kinds of window:

* `HitCount`: at least `min_hits` of the last `window` observations are evidence
  (cash hand-over, learned violence);
* `EvidenceShare`: the observations of the last `duration_s` cover that time and at
  least `min_share` of them are evidence (fire, tamper).

An episode ends when the window holds no evidence any more, or, with `episode_gap_s`,
once an observation comes that long after the last evidence (tamper: the same quiet that
ends its event). An event is due only on an observation that is itself evidence.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class HitCount:
    """Sustained when `min_hits` of the last `window` observations are evidence."""

    min_hits: int
    window: int

    def __post_init__(self) -> None:
        if not 1 <= self.min_hits <= self.window:
            raise ValueError(f"need 1 <= min_hits <= window, got {self.min_hits} of {self.window}")


@dataclass(frozen=True)
class EvidenceShare:
    """Sustained when the last `duration_s` is covered and enough of it is evidence.

    The observations of the last `duration_s` must span that time, and at least
    `min_share` of them must be evidence.

    Attributes:
        duration_s: how long evidence must last; older observations leave the window.
        min_share: the share of the window's observations that must be evidence.
        period_s: the time one observation stands for, added to the window's span when
            judging whether it covers `duration_s`; None: the window's mean spacing.
        starts_with_evidence: the window's oldest observation must be evidence too
            (the behaviour has gone on for the whole `duration_s`).
    """

    duration_s: float
    min_share: float
    period_s: float | None = None
    starts_with_evidence: bool = False


@dataclass(frozen=True)
class Observed(Generic[T]):
    """One observation in the window.

    Attributes:
        ts: When it was made, Unix seconds.
        value: What the rule keeps of it.
        evidence: Whether it was evidence.
    """

    ts: float
    value: T
    evidence: bool


class SustainedEvidence(Generic[T]):
    """A rule's recent observations and whether its current episode has had its event.

    Args:
        window: which observations count and when evidence is sustained.
        episode_gap_s: an episode ends when an observation comes this long after the
            last evidence; None: when the window holds no evidence.

    >>> hits = SustainedEvidence[None](HitCount(min_hits=2, window=3))
    >>> def fires(hit: bool) -> bool:
    ...     due = hits.add(0.0, None, hit)
    ...     if due:
    ...         hits.fired()
    ...     return due
    >>> [fires(hit) for hit in (True, False, True, True, False, False, False, True, True)]
    [False, False, True, False, False, False, False, False, True]
    """

    def __init__(
        self, window: HitCount | EvidenceShare, episode_gap_s: float | None = None
    ) -> None:
        self.window = window
        self.episode_gap_s = episode_gap_s
        size = window.window if isinstance(window, HitCount) else None
        self._observed: deque[Observed[T]] = deque(maxlen=size)
        self._armed = True  # the current episode has not raised its event yet
        self._last_evidence_ts: float | None = None

    def add(self, ts: float, value: T, evidence: bool) -> bool:
        """Record one observation.

        Args:
            ts: its time, in seconds.
            value: what the rule keeps of it (read back by `values`).
            evidence: whether the rule's evidence held on it.

        Returns:
            Whether the rule's event is due now (see `due`).
        """
        last = self._last_evidence_ts
        if self.episode_gap_s is not None and (last is None or ts - last >= self.episode_gap_s):
            self._armed = True
        self._observed.append(Observed(ts, value, evidence))
        if evidence:
            self._last_evidence_ts = ts
        if isinstance(self.window, EvidenceShare):
            while ts - self._observed[0].ts > self.window.duration_s:
                self._observed.popleft()
        if self.episode_gap_s is None and not self.has_evidence:
            self._armed = True
        return self.due

    @property
    def due(self) -> bool:
        """Whether the rule should raise its event now.

        True when the last observation is evidence, sustained over the window, in an
        episode that has not raised its event yet.
        """
        return (
            self._armed
            and bool(self._observed)
            and self._observed[-1].evidence
            and self.sustained()
        )

    def fired(self) -> None:
        """The rule raised (or chose not to raise) the episode's event: none until it ends."""
        self._armed = False

    def sustained(self) -> bool:
        """Whether the window's evidence is sustained, by the window's kind.

        Returns:
            True when enough of the window is evidence (see `HitCount`, `EvidenceShare`).
        """
        if not self._observed:
            return False
        window = self.window
        if isinstance(window, HitCount):
            return self.hits() >= window.min_hits
        first = self._observed[0]
        span = self._observed[-1].ts - first.ts
        period = (
            window.period_s
            if window.period_s is not None
            else span / max(1, len(self._observed) - 1)
        )
        return (
            (first.evidence or not window.starts_with_evidence)
            and span + period >= window.duration_s
            and self.share() >= window.min_share
        )

    @property
    def has_evidence(self) -> bool:
        """Whether any observation in the window is evidence."""
        return any(o.evidence for o in self._observed)

    def hits(self) -> int:
        """Count the window's evidence.

        Returns:
            How many of the window's observations are evidence (0 when empty).
        """
        return sum(o.evidence for o in self._observed)

    def share(self) -> float:
        """Measure the window's evidence.

        Returns:
            The share, 0..1, of the window's observations that are evidence; 0.0 when the
            window is empty.
        """
        return self.hits() / max(1, len(self._observed))

    @property
    def observations(self) -> tuple[Observed[T], ...]:
        """The window's observations, oldest first."""
        return tuple(self._observed)

    def values(self, evidence_only: bool = False) -> list[T]:
        """What the rule kept of the window's observations, oldest first.

        Args:
            evidence_only: only those that were evidence.

        Returns:
            The kept values.
        """
        return [o.value for o in self._observed if o.evidence or not evidence_only]

    def clear(self) -> None:
        """Forget the observations and the last evidence (the clock went back).

        The next observation starts the window afresh; the episode is kept.
        """
        self._observed.clear()
        self._last_evidence_ts = None

    def restart(self) -> None:
        """Forget everything and start a new episode (a new view, a new reference)."""
        self.clear()
        self._armed = True
