"""When an event ends: the last moment its rule still saw the same behaviour.

A rule raises an event once, on the frame where its evidence has lasted long enough
(the trigger). What an analyst also wants is how long the behaviour went on: a shove or
a fight that lasted a minute, a fire that burned for ten. Each rule keeps, per
*subject*, when it last saw its evidence (`EvidenceLog`): for cash the staff/customer
pair of tracks whose wrists met, for violence the pair of tracks, for fire the frame as
a whole (subject `()`). An event's span runs from its trigger to the last evidence about
its own subject, and ends after `END_AFTER_QUIET_S` without any, when a new event about
the same subject is raised, or when the camera stops. Another pair's hand-over or
scuffle never lengthens it; for violence a pair sharing one of the two people does (the
same fight, after the tracker swapped an identity or a third person joined in).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from cashwatch.core.events import EventType

# Evidence pauses shorter than this belong to the same incident: the model misses a
# fighter's arm for a few detections, a flame's flicker passes its threshold on 60 % of
# frames, a hand-over's wrists drop out of view for a moment. Three seconds is also
# the fire rule's own confirmation window and six times the violence rule's pause.
END_AFTER_QUIET_S = 3.0
# How long a rule remembers a subject's last evidence: longer than any quiet spell.
EVIDENCE_MEMORY_S = 60.0

Subject = tuple[int, ...]


class EvidenceLog:
    """When each subject last showed a rule's evidence.

    Args:
        memory_s: How long a subject's last evidence is kept, seconds; a subject unseen
            for longer is forgotten.

    >>> log = EvidenceLog()
    >>> log.saw((3, 7), 10.0); log.saw((7, 9), 12.0)
    >>> log.last((3, 7)), log.last((3, 7), shared_person=True), log.last((1, 2))
    (10.0, 12.0, None)
    """

    def __init__(self, memory_s: float = EVIDENCE_MEMORY_S) -> None:
        self.memory_s = memory_s
        self._last: dict[Subject, float] = {}
        self._prune_at = float("-inf")

    def saw(self, subject: Subject, ts: float) -> None:
        """Note that a subject showed the rule's evidence.

        Args:
            subject: The track ids concerned, `()` for the whole frame.
            ts: When, Unix seconds.
        """
        self._last[subject] = ts
        # forget subjects long gone (tracks end, pairs change); called per detection and
        # pair, so the sweep runs once per memory span, not on every sighting
        if ts >= self._prune_at:
            self._last = {s: t for s, t in self._last.items() if ts - t <= self.memory_s}
            self._prune_at = ts + self.memory_s

    def last(self, subject: Subject, *, shared_person: bool = False) -> float | None:
        """When a subject last showed the rule's evidence.

        Args:
            subject: The track ids concerned, `()` for the whole frame.
            shared_person: Also count any subject that shares one of its members.

        Returns:
            The latest such time, Unix seconds; None when there is none in memory.
        """
        if not shared_person or not subject:
            return self._last.get(subject)
        members = set(subject)
        times = [t for s, t in self._last.items() if members.intersection(s)]
        return max(times) if times else None


@dataclass(frozen=True)
class EndedSpan:
    """The event of span `span_id`, triggered at `started_at`, lasted until `ended_at`."""

    span_id: int
    event_type: EventType
    started_at: float
    ended_at: float


@dataclass
class OpenSpan:
    """An event whose behaviour may still be going on.

    Attributes:
        event_type: The event's type.
        subject: The track ids it concerns, `()` for the whole frame.
        started_at: When it was triggered, Unix seconds.
        last_evidence: When its subject last showed evidence, Unix seconds.
    """

    event_type: EventType
    subject: Subject
    started_at: float
    last_evidence: float


class EventSpans:
    """The events of one camera whose behaviour may still be going on.

    Args:
        quiet_s: How long, in seconds, a span's subject may show no evidence before the
            span ends.

    Raises:
        ValueError: When `quiet_s` is not positive.

    >>> spans = EventSpans(quiet_s=3.0)
    >>> fight, ended = spans.open("violence", (1, 2), 10.0)
    >>> spans.evidence(fight, 11.5)
    >>> spans.due(14.0)
    []
    >>> spans.due(14.5)
    [EndedSpan(span_id=1, event_type='violence', started_at=10.0, ended_at=11.5)]
    """

    def __init__(self, quiet_s: float = END_AFTER_QUIET_S) -> None:
        if quiet_s <= 0:
            raise ValueError(f"quiet_s must be > 0 seconds, got {quiet_s}")
        self.quiet_s = quiet_s
        self._open: dict[int, OpenSpan] = {}
        self._ids = itertools.count(1)

    def open(
        self, event_type: EventType, subject: Subject, ts: float
    ) -> tuple[int, list[EndedSpan]]:
        """Open the span of a new event.

        Args:
            event_type: The event's type.
            subject: The track ids it concerns, `()` for the whole frame.
            ts: When it was triggered, Unix seconds.

        Returns:
            The new span's id, and the spans of earlier events of the same type about
            the same subject, which this one ends (usually empty).
        """
        same = [
            i for i, s in self._open.items() if s.event_type == event_type and s.subject == subject
        ]
        ended = [self._close(i) for i in same]
        span_id = next(self._ids)
        self._open[span_id] = OpenSpan(event_type, subject, ts, ts)
        return span_id, ended

    def items(self) -> list[tuple[int, OpenSpan]]:
        """The open spans.

        Returns:
            (span id, span) pairs, oldest first.
        """
        return list(self._open.items())

    def evidence(self, span_id: int, ts: float | None) -> None:
        """Note that a span's subject showed evidence; the span's end only moves later.

        Args:
            span_id: The span, as `open` returned it; an ended one is ignored.
            ts: When, Unix seconds; None (no evidence) changes nothing.
        """
        span = self._open.get(span_id)
        if span is not None and ts is not None and ts > span.last_evidence:
            span.last_evidence = ts

    def due(self, ts: float) -> list[EndedSpan]:
        """End the spans that have gone quiet.

        Args:
            ts: The current time, Unix seconds.

        Returns:
            The spans whose evidence stopped `quiet_s` or more before `ts`, each ended at
            its last evidence; empty when none.
        """
        quiet = [i for i, s in self._open.items() if ts - s.last_evidence >= self.quiet_s]
        return [self._close(i) for i in quiet]

    def end_all(self) -> list[EndedSpan]:
        """End every open span at its last evidence (the camera stops).

        Returns:
            The spans that were open; empty when none was.
        """
        return [self._close(i) for i in list(self._open)]

    def _close(self, span_id: int) -> EndedSpan:
        span = self._open.pop(span_id)
        return EndedSpan(span_id, span.event_type, span.started_at, span.last_evidence)
