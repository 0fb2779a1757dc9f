"""Till transactions as a till reports them: one CSV line (or JSON object) each.

`till_id,at,amount,currency,kind,reference`: `at` an ISO 8601 time (with its offset, or
local time) or Unix seconds; `kind` one of sale, refund, no_sale, void, payout. A line
that does not parse is rejected with its line number and what is wrong with it; the
others are taken. `(till_id, reference)` names a transaction: importing it again
changes nothing.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Kind = Literal["sale", "refund", "no_sale", "void", "payout"]
KINDS: tuple[str, ...] = ("sale", "refund", "no_sale", "void", "payout")
COLUMNS = ("till_id", "at", "amount", "currency", "kind", "reference")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class Transaction:
    """One till transaction. `at` in Unix seconds; `amount` in the currency's units."""

    till_id: str
    at: float
    amount: float
    currency: str
    kind: Kind
    reference: str

    def to_record(self) -> dict[str, Any]:
        return {
            "till_id": self.till_id,
            "at": self.at,
            "amount": self.amount,
            "currency": self.currency,
            "tx_kind": self.kind,
            "reference": self.reference,
        }


@dataclass(frozen=True)
class Rejected:
    """A line that was not taken, and why (its number counts the header as line 1)."""

    line: int
    reason: str


def parse_time(value: str) -> float:
    """ISO 8601 (an offset, or local time) or Unix seconds -> Unix seconds.

    >>> parse_time("1796600000")
    1796600000.0
    >>> parse_time("2026-12-06T23:05:20+00:00")
    1796598320.0
    """
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number) or number <= 0:
            raise ValueError(f"at {value!r} is not a time")
        return number
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ValueError(
            f"at {value!r} is not a time: write ISO 8601 (2026-12-06T23:05:20+09:00) "
            "or Unix seconds"
        ) from None


def transaction_from(fields: dict[str, Any]) -> Transaction:
    """Check one transaction's fields; ValueError naming the bad value and what is valid."""
    missing = [name for name in COLUMNS if fields.get(name) in (None, "")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    till_id, reference = str(fields["till_id"]).strip(), str(fields["reference"]).strip()
    for name, value in (("till_id", till_id), ("reference", reference)):
        if not _ID.match(value):
            raise ValueError(
                f"{name} {value!r}: 1-64 letters, digits, _ . : -, starting with a letter or digit"
            )
    kind = str(fields["kind"]).strip().lower()
    if kind not in KINDS:
        raise ValueError(f"kind {fields['kind']!r}; valid: {', '.join(KINDS)}")
    try:
        amount = float(str(fields["amount"]).strip())
    except ValueError:
        raise ValueError(f"amount {fields['amount']!r} is not a number") from None
    if not math.isfinite(amount):
        raise ValueError(f"amount {fields['amount']!r} is not a number")
    currency = str(fields["currency"]).strip().upper()
    if not _CURRENCY.match(currency):
        raise ValueError(f"currency {fields['currency']!r}: a 3-letter ISO 4217 code (KRW, USD)")
    at = fields["at"]
    seconds = float(at) if isinstance(at, int | float) else parse_time(str(at))
    return Transaction(till_id, seconds, amount, currency, kind, reference)  # type: ignore[arg-type]


def parse_csv(text: str) -> tuple[list[Transaction], list[Rejected]]:
    """The transactions of a CSV file with a header line, and the lines rejected."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    absent = [name for name in COLUMNS if name not in header]
    if absent:
        return [], [Rejected(1, f"header lacks {', '.join(absent)}; columns: {','.join(COLUMNS)}")]
    reader.fieldnames = header
    taken: list[Transaction] = []
    rejected: list[Rejected] = []
    for row in reader:
        line = reader.line_num
        if None in row:  # more cells than the header names
            rejected.append(
                Rejected(
                    line, f"{len(header) + len(row[None])} cells, the header names {len(header)}"
                )
            )
            continue
        try:
            taken.append(transaction_from(row))
        except ValueError as exc:
            rejected.append(Rejected(line, str(exc)))
    return taken, rejected


def transaction_from_row(row: Sequence[Any]) -> Transaction:
    """A `transactions` row read as (till_id, reference, epoch(rung_up_at), amount,
    currency, kind)."""
    till_id, reference, at, amount, currency, kind = row
    return Transaction(
        str(till_id), float(at), float(amount or 0.0), str(currency or ""), kind, str(reference)
    )
