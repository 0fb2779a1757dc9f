"""When an event ends: the last moment its rule still saw evidence.

A rule raises an event once, on the frame where its evidence has lasted long enough
(the trigger). What an analyst also wants is how long the behaviour went on: a shove or
a fight that lasted a minute, a fire that burned for ten. Each rule reports the time of
its latest evidence (a staff and a customer wrist together, two people within reach with
fast limbs, a flickering flame-coloured area); an event's span runs from its trigger to
the last evidence of its type before `END_AFTER_QUIET_S` without any.

One span per (camera, event type) is open at a time, as the cooldown allows one event
per type: a new event of the type ends the previous span.
"""

from __future__ import annotations

from dataclasses import dataclass

from cashwatch.events import EventType

# Evidence pauses shorter than this belong to the same incident: the model misses a
# fighter's arm for a few detections, a flame's flicker passes its threshold on 60 % of
# frames, a hand-over's wrists drop out of view for a moment. Three seconds is also
# the fire rule's own confirmation window and six times the violence rule's pause.
END_AFTER_QUIET_S = 3.0


@dataclass(frozen=True)
class EndedSpan:
    """An event of `event_type` triggered at `started_at` lasted until `ended_at`."""

    event_type: EventType
    started_at: float
    ended_at: float


@dataclass
class _Open:
    started_at: float
    last_evidence: float


class EventSpans:
    """Follows the open event of each type on one camera.

    >>> spans = EventSpans(quiet_s=3.0)
    >>> spans.open("violence", 10.0)
    []
    >>> spans.evidence("violence", 11.5); spans.evidence("fire", 11.5)  # no fire event open
    >>> spans.due(14.0)
    []
    >>> spans.due(14.5)
    [EndedSpan(event_type='violence', started_at=10.0, ended_at=11.5)]
    """

    def __init__(self, quiet_s: float = END_AFTER_QUIET_S) -> None:
        if quiet_s <= 0:
            raise ValueError(f"quiet_s must be > 0 seconds, got {quiet_s}")
        self.quiet_s = quiet_s
        self._open: dict[EventType, _Open] = {}

    def open(self, event_type: EventType, ts: float) -> list[EndedSpan]:
        """An event of `event_type` fired at `ts`; returns the span it ends, if any."""
        ended = self._close(event_type)
        self._open[event_type] = _Open(started_at=ts, last_evidence=ts)
        return ended

    def evidence(self, event_type: EventType, ts: float | None) -> None:
        """The rule of `event_type` last saw evidence at `ts` (None: never)."""
        span = self._open.get(event_type)
        if span is not None and ts is not None and ts > span.last_evidence:
            span.last_evidence = ts

    def due(self, ts: float) -> list[EndedSpan]:
        """The spans whose evidence stopped `quiet_s` or more before `ts`."""
        quiet = [t for t, span in self._open.items() if ts - span.last_evidence >= self.quiet_s]
        return [ended for t in quiet for ended in self._close(t)]

    def end_all(self) -> list[EndedSpan]:
        """Every open span, ended at its last evidence (the camera stops)."""
        return [ended for t in list(self._open) for ended in self._close(t)]

    def _close(self, event_type: EventType) -> list[EndedSpan]:
        span = self._open.pop(event_type, None)
        if span is None:
            return []
        return [EndedSpan(event_type, span.started_at, span.last_evidence)]
