"""When events end: spans from a trigger to the last evidence of its type."""

from __future__ import annotations

import pytest

from cashwatch.rules.spans import EndedSpan, EventSpans


def test_evidence_keeps_an_event_open_until_a_quiet_spell() -> None:
    spans = EventSpans(quiet_s=3.0)
    assert spans.open("fire", 100.0) == []
    for ts in (101.0, 102.5, 104.0, 106.9):  # pauses under 3 s
        spans.evidence("fire", ts)
        assert spans.due(ts + 0.1) == []
    assert spans.due(109.8) == []
    assert spans.due(109.9) == [EndedSpan("fire", 100.0, 106.9)]
    assert spans.due(200.0) == []  # ended once


def test_types_are_independent_and_old_evidence_does_not_move_an_end_back() -> None:
    spans = EventSpans(quiet_s=3.0)
    spans.open("cash", 10.0)
    spans.open("violence", 11.0)
    spans.evidence("cash", 12.0)
    spans.evidence("cash", 11.0)  # a rule reporting its last evidence again, or older
    spans.evidence("violence", None)  # the rule never saw any
    assert spans.due(14.0) == [EndedSpan("violence", 11.0, 11.0)]
    assert spans.due(15.0) == [EndedSpan("cash", 10.0, 12.0)]


def test_a_new_event_of_a_type_ends_the_last_one() -> None:
    spans = EventSpans(quiet_s=3.0)
    spans.open("violence", 10.0)
    spans.evidence("violence", 24.0)
    assert spans.open("violence", 25.0) == [EndedSpan("violence", 10.0, 24.0)]
    assert spans.end_all() == [EndedSpan("violence", 25.0, 25.0)]
    assert spans.end_all() == []


def test_evidence_with_no_event_open_is_ignored() -> None:
    spans = EventSpans(quiet_s=3.0)
    spans.evidence("fire", 5.0)
    assert spans.due(100.0) == [] and spans.end_all() == []


def test_quiet_spell_must_be_positive() -> None:
    with pytest.raises(ValueError, match="quiet_s must be > 0 seconds, got 0"):
        EventSpans(quiet_s=0)
