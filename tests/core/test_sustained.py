"""The shared trigger: sustained evidence over a window, one event per episode.

Each rule had its own copy of this logic before; the references below are those copies,
reduced to their timing, and the helper must decide exactly as they did on any sequence.
"""

from __future__ import annotations

import random
from collections import deque

import pytest

from cashwatch.core.sustained import EvidenceShare, HitCount, SustainedEvidence


def _fire_when_due(window: SustainedEvidence[None], ts: float, evidence: bool) -> bool:
    due = window.add(ts, None, evidence)
    if due:
        window.fired()
    return due


def _reference_hit_count(hits: list[bool], min_hits: int, size: int) -> list[bool]:
    """The learned violence rule's `Persistence`, as it was."""
    window: deque[bool] = deque(maxlen=size)
    armed, fired = True, []
    for hit in hits:
        window.append(hit)
        count = sum(window)
        if count == 0 and len(window) == size:
            armed = True
        fired.append(armed and count >= min_hits)
        armed = armed and not fired[-1]
    return fired


def _reference_fire(
    samples: list[tuple[float, bool]], duration_s: float, min_share: float
) -> list[bool]:
    """The fire rule's window and `_fired_run`, as they were."""
    window: deque[tuple[float, bool]] = deque()
    fired_run, fired = False, []
    for ts, evidence in samples:
        window.append((ts, evidence))
        while ts - window[0][0] > duration_s:
            window.popleft()
        share = sum(e for _, e in window) / max(1, len(window))
        if not evidence:
            fired_run = fired_run and share > 0
            fired.append(False)
            continue
        span = window[-1][0] - window[0][0]
        period = span / max(1, len(window) - 1)
        due = not fired_run and span + period >= duration_s and share >= min_share
        fired_run = fired_run or due
        fired.append(due)
    return fired


def _reference_tamper(
    samples: list[tuple[float, bool]],
    duration_s: float,
    min_share: float,
    period_s: float,
    gap_s: float,
) -> list[bool]:
    """The tamper rule's window, `_episode_over` and `_fired_run`, as they were."""
    window: deque[tuple[float, bool]] = deque()
    fired_run, last, fired = False, None, []
    for ts, evidence in samples:
        if last is None or ts - last >= gap_s:
            fired_run = False
        if evidence:
            last = ts
        window.append((ts, evidence))
        while ts - window[0][0] > duration_s:
            window.popleft()
        first = window[0]
        span = window[-1][0] - first[0]
        share = sum(e for _, e in window) / max(1, len(window))
        due = (
            evidence
            and not fired_run
            and first[1]
            and span + period_s >= duration_s
            and share >= min_share
        )
        fired_run = fired_run or due
        fired.append(due)
    return fired


def _random_samples(rng: random.Random, count: int, step_s: float) -> list[tuple[float, bool]]:
    ts, samples = 0.0, []
    on = False
    for _ in range(count):
        ts += step_s * rng.choice((1.0, 1.0, 1.0, 1.5, 3.0))  # a late frame now and then
        if rng.random() < 0.15:
            on = not on  # runs of evidence and of quiet, with noise inside them
        samples.append((ts, on != (rng.random() < 0.1)))
    return samples


@pytest.mark.parametrize("seed", range(40))
def test_hit_count_decides_as_the_learned_rule_did(seed: int) -> None:
    rng = random.Random(seed)
    min_hits, size = rng.randint(1, 4), rng.randint(4, 7)
    hits = [flag for _, flag in _random_samples(rng, 300, 1.0)]
    window = SustainedEvidence[None](HitCount(min_hits, size))
    got = [_fire_when_due(window, float(i), hit) for i, hit in enumerate(hits)]
    assert got == _reference_hit_count(hits, min_hits, size)
    assert any(got)


@pytest.mark.parametrize("seed", range(40))
def test_evidence_share_decides_as_the_fire_rule_did(seed: int) -> None:
    rng = random.Random(seed)
    samples = _random_samples(rng, 400, 1 / 7.5)
    window = SustainedEvidence[None](EvidenceShare(3.0, 0.6))
    got = [_fire_when_due(window, ts, evidence) for ts, evidence in samples]
    assert got == _reference_fire(samples, 3.0, 0.6)
    assert any(got)


@pytest.mark.parametrize("seed", range(40))
def test_evidence_share_with_a_gap_decides_as_the_tamper_rule_did(seed: int) -> None:
    rng = random.Random(seed)
    samples = _random_samples(rng, 400, 1.0)
    window = SustainedEvidence[None](
        EvidenceShare(4.0, 0.8, period_s=1.0, starts_with_evidence=True), episode_gap_s=3.0
    )
    got = [_fire_when_due(window, ts, evidence) for ts, evidence in samples]
    assert got == _reference_tamper(samples, 4.0, 0.8, 1.0, 3.0)
    assert any(got)


def test_an_episode_raises_one_event_until_the_window_is_quiet() -> None:
    window = SustainedEvidence[int](HitCount(min_hits=2, window=3))
    assert [_fire_when_due(window, t, True) for t in (0.0, 1.0, 2.0, 3.0)] == [
        False,
        True,
        False,
        False,
    ]
    assert window.hits() == 3 and window.has_evidence
    for t in (4.0, 5.0, 6.0):
        window.add(t, 0, False)
    assert not window.has_evidence and window.share() == 0.0
    assert [_fire_when_due(window, t, True) for t in (7.0, 8.0)] == [False, True]


def test_values_keep_what_the_rule_saw_oldest_first() -> None:
    window = SustainedEvidence[str](EvidenceShare(2.0, 0.5))
    for ts, value, evidence in ((0.0, "a", True), (1.0, "b", False), (2.5, "c", True)):
        window.add(ts, value, evidence)
    assert window.values() == ["b", "c"]  # "a" is older than 2 s
    assert window.values(evidence_only=True) == ["c"]
    assert [o.ts for o in window.observations] == [1.0, 2.5]


def test_restart_starts_a_new_episode_and_clear_forgets_the_last_evidence() -> None:
    share = EvidenceShare(2.0, 0.5, period_s=1.0)
    window = SustainedEvidence[None](share, episode_gap_s=10.0)
    assert [_fire_when_due(window, t, True) for t in (0.0, 1.0)] == [False, True]
    assert not _fire_when_due(window, 2.0, True)  # the same episode
    window.restart()
    assert window.observations == ()
    assert [_fire_when_due(window, t, True) for t in (3.0, 4.0)] == [False, True]
    window.clear()  # the clock went back: the gap since the last evidence is unknown
    assert [_fire_when_due(window, t, True) for t in (1.0, 2.0)] == [False, True]


def test_a_hit_count_needs_hits_that_fit_the_window() -> None:
    with pytest.raises(ValueError, match="min_hits"):
        HitCount(min_hits=4, window=3)
