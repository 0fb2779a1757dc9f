"""Cash hand-overs matched against their till's transactions: a pure function.

A hand-over at time t is matched by a transaction of its till rung up between
`t - before_s` and `t + after_s` (payment may be rung up before or after the cash
changes hands), widened by `max_skew_s` on both sides for a till whose clock is off.
Only a transaction that moves money at the counter can match: a sale, a refund or a
payout. A no-sale (the drawer opened) or a void never does: those are what a
hand-over without a sale looks like.

Each transaction matches one hand-over at most, and each hand-over one transaction:
the pairs closest in time are made first, so two hand-overs around one sale give the
sale to the nearer one and leave the other unmatched. A hand-over without a match is
`pending` while its window may still receive one, then `unmatched`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from cashwatch.till.transactions import Transaction

Outcome = Literal["unmatched", "matched", "pending", "no_till"]
# every outcome, worst first (the order the dashboard offers them in)
OUTCOMES: tuple[Outcome, ...] = ("unmatched", "matched", "pending", "no_till")
MATCHING_KINDS = ("sale", "refund", "payout")


@dataclass(frozen=True)
class Window:
    """How far apart a hand-over and its transaction may be."""

    before_s: float = 60.0
    after_s: float = 120.0
    max_skew_s: float = 30.0

    def contains(self, handover_at: float, transaction_at: float) -> bool:
        offset = transaction_at - handover_at
        return -self.before_s - self.max_skew_s <= offset <= self.after_s + self.max_skew_s

    def closes(self, handover_at: float) -> float:
        """When no transaction can match this hand-over any more."""
        return handover_at + self.after_s + self.max_skew_s


@dataclass(frozen=True)
class Handover:
    """A cash event: its id, its camera's till (None: the camera has none), when."""

    event_id: str
    till_id: str | None
    at: float


@dataclass(frozen=True)
class Match:
    """A hand-over's outcome, and the transaction that matched it."""

    event_id: str
    outcome: Outcome
    transaction: Transaction | None = None


def match(
    handovers: Sequence[Handover],
    transactions: Iterable[Transaction],
    window: Window,
    now: float,
) -> list[Match]:
    """Every hand-over's outcome, in the order given.

    >>> sale = Transaction("till-1", 1030.0, 12.5, "USD", "sale", "r1")
    >>> [m.outcome for m in match(
    ...     [Handover("a", "till-1", 1000.0), Handover("b", "till-1", 1100.0),
    ...      Handover("c", None, 1000.0)], [sale], Window(), now=2000.0)]
    ['matched', 'unmatched', 'no_till']
    """
    candidates = sorted(
        (abs(tx.at - h.at), index, position, tx)
        for position, tx in enumerate(t for t in transactions if t.kind in MATCHING_KINDS)
        for index, h in enumerate(handovers)
        if h.till_id is not None and tx.till_id == h.till_id and window.contains(h.at, tx.at)
    )
    taken: dict[int, Transaction] = {}
    used: set[int] = set()
    for _, index, position, tx in candidates:
        if index not in taken and position not in used:
            taken[index] = tx
            used.add(position)
    return [_outcome(h, taken.get(index), window, now) for index, h in enumerate(handovers)]


def _outcome(handover: Handover, tx: Transaction | None, window: Window, now: float) -> Match:
    if handover.till_id is None:
        return Match(handover.event_id, "no_till")
    if tx is not None:
        return Match(handover.event_id, "matched", tx)
    if now < window.closes(handover.at):
        return Match(handover.event_id, "pending")
    return Match(handover.event_id, "unmatched")
