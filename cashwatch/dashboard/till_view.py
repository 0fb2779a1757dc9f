"""A cash hand-over's outcome against its till, beside its clip (docs/till.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from cashwatch.dashboard import data
from cashwatch.dashboard.widgets import plain
from cashwatch.i18n import N_, _, format_time

# A transaction's kind as people read it; the kind itself (stored) stays as it is
KIND_LABELS = {
    "sale": N_("sale"),
    "refund": N_("refund"),
    "no_sale": N_("no sale"),
    "void": N_("void"),
    "payout": N_("payout"),
}


def transaction_of(data_dir: Path, till_id: str, reference: str) -> dict[str, Any] | None:
    """The till transaction a hand-over matched, or None."""
    frame = data.query_df(
        data_dir,
        "SELECT kind, amount, currency, rung_up_at, reference FROM transactions "
        "WHERE till_id = ? AND reference = ?",
        [till_id, reference],
    )
    return None if frame.empty else dict(frame.iloc[0].to_dict())


def transaction_text(tx: dict[str, Any]) -> str:
    """`sale of 12.50 USD at 14:05:11 (reference R1)`, in the server's local time."""
    when = pd.Timestamp(tx["rung_up_at"])
    if when.tzinfo is not None:
        when = when.tz_convert(dt.datetime.now().astimezone().tzinfo)
    kind = str(tx["kind"])
    label = KIND_LABELS.get(kind)
    return _("{kind} of {amount} {currency} at {time} (reference {reference})").format(
        kind=_(label) if label is not None else kind.replace("_", " "),
        amount=f"{float(tx['amount']):.2f}",
        currency=tx["currency"],
        time=format_time(when.to_pydatetime()),
        reference=tx["reference"],
    )


def till_panel(ctx: Any, event: dict[str, Any]) -> None:
    """What the till says about this hand-over: the sale that matched it, or that none
    was rung up; for a till exception, its transaction; nothing for other types."""
    if event.get("event_type") == "till_exception":
        _exception_panel(ctx, event)
        return
    outcome, till = event.get("till_match"), event.get("till_id")
    if event.get("event_type") != "cash" or not isinstance(outcome, str):
        return
    named = isinstance(till, str)
    name = plain(str(till))
    if outcome == "matched" and isinstance(event.get("till_reference"), str):
        tx = transaction_of(ctx.data_dir, str(till), str(event["till_reference"]))
        text = plain(transaction_text(tx)) if tx else plain(str(event["till_reference"]))
        said = (
            _("Rung up on till {till}: {transaction}")
            if named
            else _("Rung up on its till: {transaction}")
        )
        st.success(said.format(till=name, transaction=text), icon=":material/point_of_sale:")
    elif outcome == "unmatched":
        said = (
            _("No sale was rung up on till {till} around this hand-over.")
            if named
            else _("No sale was rung up on its till around this hand-over.")
        )
        st.error(said.format(till=name), icon=":material/money_off:")
    elif outcome == "pending":
        said = (
            _("Waiting for till {till} to ring it up.")
            if named
            else _("Waiting for its till to ring it up.")
        )
        st.info(said.format(till=name), icon=":material/hourglass_top:")
    else:
        st.caption(_("This camera watches no till (`till_id`)."))


def _exception_panel(ctx: Any, event: dict[str, Any]) -> None:
    """The refund or no-sale rung up while no camera on its till saw a customer."""
    details = event.get("details")  # parsed by data.event_row
    if not isinstance(details, dict):
        return
    till, reference = str(details.get("till_id")), str(details.get("till_reference"))
    tx = transaction_of(ctx.data_dir, till, reference)
    text = plain(transaction_text(tx)) if tx else plain(reference)
    st.error(
        _("Rung up on till {till} with no customer in view: {transaction}").format(
            till=plain(till), transaction=text
        ),
        icon=":material/point_of_sale:",
    )
