"""A cash hand-over's outcome against its till, beside its clip (docs/till.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from cashwatch.dashboard import data
from cashwatch.dashboard.widgets import plain


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
    kind = str(tx["kind"]).replace("_", " ")
    return (
        f"{kind} of {float(tx['amount']):.2f} {tx['currency']} at {when:%H:%M:%S} "
        f"(reference {tx['reference']})"
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
    where = f"till {plain(str(till))}" if isinstance(till, str) else "its till"
    if outcome == "matched" and isinstance(event.get("till_reference"), str):
        tx = transaction_of(ctx.data_dir, str(till), str(event["till_reference"]))
        text = plain(transaction_text(tx)) if tx else plain(str(event["till_reference"]))
        st.success(f"Rung up on {where}: {text}", icon=":material/point_of_sale:")
    elif outcome == "unmatched":
        st.error(
            f"No sale was rung up on {where} around this hand-over.",
            icon=":material/money_off:",
        )
    elif outcome == "pending":
        st.info(f"Waiting for {where} to ring it up.", icon=":material/hourglass_top:")
    else:
        st.caption("This camera watches no till (`till_id`).")


def _exception_panel(ctx: Any, event: dict[str, Any]) -> None:
    """The refund or no-sale rung up while no camera on its till saw a customer."""
    details = event.get("details")  # parsed by data.event_row
    if not isinstance(details, dict):
        return
    till, reference = str(details.get("till_id")), str(details.get("till_reference"))
    tx = transaction_of(ctx.data_dir, till, reference)
    text = plain(transaction_text(tx)) if tx else plain(reference)
    st.error(
        f"Rung up on till {plain(till)} with no customer in view: {text}",
        icon=":material/point_of_sale:",
    )
