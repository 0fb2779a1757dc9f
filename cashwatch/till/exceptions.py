"""Refunds and no-sales rung up with nobody at the counter: a pure judgement.

The classic till fraud is a refund to no one: the cashier rings up a refund (or opens
the drawer with a no-sale) while no customer stands at the counter, and pockets the
cash. A `refund` or `no_sale` transaction is a *till exception* when, from
`before_s` before it was rung up to `after_s` after (each widened by the till clock's
`max_skew_s`), a camera on its till was watching the whole time and

- no camera on that till saw a customer in view (`cashwatch.rules.customers`), and
- no camera on that till raised a cash hand-over.

A camera that was not watching for the whole of that time proves nothing: the
transaction is then `unwatched`, never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cashwatch.till.transactions import Transaction

EXCEPTION_KINDS = ("refund", "no_sale")
# wait: its window is still open; exception: raise it; customer/cash: someone was there;
# unwatched: no camera on the till watched the whole window; no_camera: none is on it
Finding = Literal["wait", "exception", "customer", "cash", "unwatched", "no_camera"]


@dataclass(frozen=True)
class ExceptionWindow:
    """When someone must have been at the counter for a refund to be explained."""

    before_s: float = 30.0
    after_s: float = 10.0
    max_skew_s: float = 30.0

    def span(self, at: float) -> tuple[float, float]:
        """The window around a transaction rung up at `at` (camera clock, skew included)."""
        return at - self.before_s - self.max_skew_s, at + self.after_s + self.max_skew_s


@dataclass(frozen=True)
class CounterView:
    """What the manager saw of one camera on the till.

    Attributes:
        camera_id: The camera.
        watched_since: Since when it has run with detection without a break, Unix
            seconds; None when it does not now.
        customers_at: Times a customer was in view (the camera's sampled frames).
        cash_at: When its cash hand-overs started.
    """

    camera_id: str
    watched_since: float | None
    customers_at: Sequence[float] = ()
    cash_at: Sequence[float] = ()


@dataclass(frozen=True)
class Judgement:
    """A transaction's finding, and the camera an exception is raised on."""

    finding: Finding
    camera_id: str | None = None


def judge(
    tx: Transaction, views: Sequence[CounterView], window: ExceptionWindow, now: float
) -> Judgement:
    """Whether a refund or no-sale is a till exception.

    Args:
        tx: A `refund` or `no_sale` transaction.
        views: The cameras on its till.
        window: The window around it.
        now: The current time, Unix seconds.

    Returns:
        `wait` until the window has closed, then the finding.

    Raises:
        ValueError: For a transaction of another kind.

    >>> refund = Transaction("till-1", 1000.0, 20.0, "USD", "refund", "r9")
    >>> quiet = CounterView("cam", watched_since=900.0, customers_at=(920.0,))
    >>> judge(refund, [quiet], ExceptionWindow(), now=1100.0)
    Judgement(finding='exception', camera_id='cam')
    >>> busy = CounterView("cam", watched_since=900.0, customers_at=(1005.0,))
    >>> judge(refund, [busy], ExceptionWindow(), now=1100.0).finding
    'customer'
    >>> judge(refund, [quiet], ExceptionWindow(), now=1020.0).finding
    'wait'
    """
    if tx.kind not in EXCEPTION_KINDS:
        raise ValueError(f"{tx.kind!r} is not judged; valid: {', '.join(EXCEPTION_KINDS)}")
    start, end = window.span(tx.at)
    if now < end:
        return Judgement("wait")
    if not views:
        return Judgement("no_camera")
    if any(start <= t <= end for view in views for t in view.cash_at):
        return Judgement("cash")
    if any(start <= t <= end for view in views for t in view.customers_at):
        return Judgement("customer")
    watching = [v for v in views if v.watched_since is not None and v.watched_since <= start]
    if not watching:
        return Judgement("unwatched")
    return Judgement("exception", watching[0].camera_id)
