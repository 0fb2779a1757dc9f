"""Matching cash hand-overs against till transactions: window edges, competition for
one sale, late transactions, clock skew, and which kinds of transaction count."""

from __future__ import annotations

import pytest

from cashwatch.till.matching import Handover, Window, match
from cashwatch.till.transactions import Transaction

WINDOW = Window(before_s=60.0, after_s=120.0, max_skew_s=0.0)


def _tx(at: float, kind: str = "sale", till: str = "t1", ref: str = "r") -> Transaction:
    return Transaction(till, at, 10.0, "USD", kind, f"{ref}{at:g}")  # type: ignore[arg-type]


def _outcomes(
    handovers: list[Handover],
    txs: list[Transaction],
    window: Window = WINDOW,
    now: float = 10_000.0,
) -> list[str]:
    return [m.outcome for m in match(handovers, txs, window, now)]


@pytest.mark.parametrize(
    ("offset", "outcome"),
    [
        (-60.0, "matched"),
        (-60.5, "unmatched"),
        (120.0, "matched"),
        (120.5, "unmatched"),
        (0.0, "matched"),
    ],
)
def test_window_edges(offset: float, outcome: str) -> None:
    assert _outcomes([Handover("a", "t1", 1000.0)], [_tx(1000.0 + offset)]) == [outcome]


def test_two_handovers_and_one_sale_give_it_to_the_nearer() -> None:
    handovers = [Handover("early", "t1", 1000.0), Handover("late", "t1", 1050.0)]
    result = match(handovers, [_tx(1045.0)], WINDOW, now=10_000.0)
    assert [(m.event_id, m.outcome) for m in result] == [
        ("early", "unmatched"),
        ("late", "matched"),
    ]
    assert result[1].transaction == _tx(1045.0)


def test_each_sale_matches_once_and_each_handover_once() -> None:
    handovers = [Handover("a", "t1", 1000.0), Handover("b", "t1", 1010.0)]
    assert _outcomes(handovers, [_tx(1001.0), _tx(1002.0)]) == ["matched", "matched"]
    assert _outcomes([Handover("a", "t1", 1000.0)], [_tx(1001.0), _tx(1002.0)]) == ["matched"]


def test_pending_until_the_window_closes_then_a_late_sale_still_counts() -> None:
    handover = [Handover("a", "t1", 1000.0)]
    assert _outcomes(handover, [], now=1100.0) == ["pending"]
    assert _outcomes(handover, [], now=1120.5) == ["unmatched"]
    assert _outcomes(handover, [_tx(1110.0)], now=1115.0) == ["matched"]


def test_clock_skew_widens_the_window() -> None:
    skewed = Window(before_s=60.0, after_s=120.0, max_skew_s=30.0)
    handover = [Handover("a", "t1", 1000.0)]
    assert _outcomes(handover, [_tx(1000.0 - 85.0)], skewed) == ["matched"]
    assert _outcomes(handover, [_tx(1000.0 + 145.0)], skewed) == ["matched"]
    assert _outcomes(handover, [_tx(1000.0 + 151.0)], skewed) == ["unmatched"]
    assert _outcomes(handover, [], skewed, now=1140.0) == ["pending"], "skew keeps it open"


def test_only_money_moving_kinds_of_the_same_till_match() -> None:
    handover = [Handover("a", "t1", 1000.0)]
    for kind in ("sale", "refund", "payout"):
        assert _outcomes(handover, [_tx(1010.0, kind)]) == ["matched"], kind
    for kind in ("no_sale", "void"):
        assert _outcomes(handover, [_tx(1010.0, kind)]) == ["unmatched"], kind
    assert _outcomes(handover, [_tx(1010.0, till="t2")]) == ["unmatched"]
    assert _outcomes([Handover("a", None, 1000.0)], [_tx(1010.0)]) == ["no_till"]
