"""When events end: spans from a trigger to the last evidence about the same subject."""

from __future__ import annotations

import pytest

from cashwatch.core.spans import EndedSpan, EventSpans, EvidenceLog

PAIR, OTHER_PAIR = (3, 7), (4, 8)


def test_evidence_keeps_an_event_open_until_a_quiet_spell() -> None:
    spans = EventSpans(quiet_s=3.0)
    fire, replaced = spans.open("fire", (), 100.0)
    assert replaced == []
    for ts in (101.0, 102.5, 104.0, 106.9):  # pauses under 3 s
        spans.evidence(fire, ts)
        assert spans.due(ts + 0.1) == []
    assert spans.due(109.8) == []
    assert spans.due(109.9) == [EndedSpan(fire, "fire", 100.0, 106.9)]
    assert spans.due(200.0) == []  # ended once


def test_old_evidence_does_not_move_an_end_back() -> None:
    spans = EventSpans(quiet_s=3.0)
    cash, _ = spans.open("cash", PAIR, 10.0)
    fight, _ = spans.open("violence", PAIR, 11.0)
    spans.evidence(cash, 12.0)
    spans.evidence(cash, 11.0)  # a rule reporting its last evidence again, or older
    spans.evidence(fight, None)  # the rule never saw any about this pair
    assert spans.due(14.0) == [EndedSpan(fight, "violence", 11.0, 11.0)]
    assert spans.due(15.0) == [EndedSpan(cash, "cash", 10.0, 12.0)]


def test_a_new_event_about_the_same_subject_ends_the_last_one_and_no_other() -> None:
    spans = EventSpans(quiet_s=3.0)
    first, _ = spans.open("violence", PAIR, 10.0)
    other, _ = spans.open("violence", OTHER_PAIR, 10.0)  # two fights at once (cooldown 0)
    spans.evidence(first, 24.0)
    spans.evidence(other, 24.0)
    again, replaced = spans.open("violence", PAIR, 25.0)
    assert replaced == [EndedSpan(first, "violence", 10.0, 24.0)]
    assert len({first, other, again}) == 3
    assert sorted(s.span_id for s in spans.end_all()) == [other, again]
    assert spans.end_all() == []


def test_quiet_spell_must_be_positive() -> None:
    with pytest.raises(ValueError, match="quiet_s must be > 0 seconds, got 0"):
        EventSpans(quiet_s=0)


def test_evidence_is_kept_per_subject() -> None:
    log = EvidenceLog(memory_s=60.0)
    log.saw(PAIR, 10.0)
    log.saw(OTHER_PAIR, 12.0)
    assert log.last(PAIR) == 10.0
    assert log.last(PAIR, shared_person=True) == 10.0  # no one in common with (4, 8)
    log.saw((7, 9), 13.0)  # one of the pair, now with someone else
    assert log.last(PAIR) == 10.0 and log.last(PAIR, shared_person=True) == 13.0
    log.saw((1, 2), 80.0)  # a minute later the old pairs are forgotten
    assert log.last(PAIR, shared_person=True) is None and log.last((1, 2)) == 80.0
