"""The manager's till work: the inbox imported, cash hand-overs matched, the demo till.

Every MATCH_EVERY_S the manager imports the CSV files in the till inbox, then reads the
cash events whose outcome is still open and the transactions around them (one short
read of the database it writes), matches them (cashwatch.till.matching, a pure
function) and journals each outcome that changed as a `till_match` record, which the
ingest applies like any other. A busy or damaged database only delays this: the
outcome is decided again next time from what is stored.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from cashwatch.config import LoadedConfig
from cashwatch.manager.till_exceptions import LiveFrames, TillExceptions
from cashwatch.store.db import DatabaseBusyError
from cashwatch.store.journal import JournalWriter
from cashwatch.till.imports import import_inbox, journal_transactions
from cashwatch.till.matching import Handover, Match, Window, match
from cashwatch.till.transactions import Transaction, transaction_from_row

log = logging.getLogger("cashwatch.manager")

MATCH_EVERY_S = 2.0
LOOK_BACK = "INTERVAL 2 DAY"  # open outcomes older than this are left as they are
DEMO_DELAY_S = 20.0  # the demo till rings a hand-over up this long after it
DEMO_FORGETS_EVERY = 3  # the first hand-over and every third is never rung up


class TillUpkeep:
    """Imports and matches while the manager runs; `step()` once per loop pass."""

    def __init__(self, data_dir: Path, journal: JournalWriter) -> None:
        self.data_dir = data_dir
        self.journal = journal
        self._next = 0.0  # monotonic
        self._demo_seen: Counter[str] = Counter()  # hand-overs per demo till
        self._demo_done: set[str] = set()
        self._told: dict[str, str] = {}  # event → the outcome last journalled for it
        self._last_error = 0.0
        self.exceptions = TillExceptions(data_dir, journal)

    def step(
        self,
        loaded: LoadedConfig,
        records: Mapping[str, Mapping[str, Any]],
        live_frame: LiveFrames,
    ) -> None:
        """One manager pass: `records` are the cameras' status records (camera id →
        `cashwatch.status.camera_record`), `live_frame` a camera's latest frame."""
        now = time.monotonic()
        self.exceptions.observe(loaded, records, time.time())  # every pass: who watched
        if now < self._next:
            return
        self._next = now + MATCH_EVERY_S
        till = loaded.app.till
        try:
            # matched first: what the import journals now is in the database next round
            self._judge(loaded, live_frame)
        except DatabaseBusyError:
            pass  # a reader holds the file (the dashboard, an analyst): next round
        except Exception as exc:  # the database damaged: decided again next time
            self._say("till matching postponed", exc, now)
        journal_transactions(
            self.journal, self.exceptions.demo_no_sales(loaded, time.time()), "demo"
        )
        try:
            import_inbox(self.data_dir, till.inbox, self.journal)
        except Exception as exc:  # an unreadable inbox folder: tried again next round
            self._say("till inbox not imported", exc, now)

    def _judge(self, loaded: LoadedConfig, live_frame: LiveFrames) -> None:
        """Hand-overs matched and refunds judged, on one short connection."""
        from cashwatch.store.db import open_writable

        con = open_writable(self.data_dir)
        try:
            self._match(con, loaded)
            self.exceptions.step(con, loaded, live_frame, time.time())
        finally:
            con.close()

    def _say(self, what: str, exc: Exception, now: float) -> None:
        """Once a minute at most: a fault that lasts must not fill the log."""
        if now - self._last_error >= 60.0:
            self._last_error = now
            log.warning("%s: %s: %s", what, type(exc).__name__, exc)

    def _match(self, con: duckdb.DuckDBPyConnection, loaded: LoadedConfig) -> None:
        tills = {camera.id: camera.till_id for camera in loaded.app.cameras}
        settings = loaded.app.till
        window = Window(settings.window_before_s, settings.window_after_s, settings.max_skew_s)
        handovers, current, transactions = self._read(con, tills, window)
        if not handovers:
            return
        # an outcome journalled but not yet ingested is not told again (an unmatched one
        # is an alert); only the hand-overs still open are remembered
        self._told = {h.event_id: o for h in handovers if (o := self._told.get(h.event_id))}
        self._ring_up_demo(handovers, set(settings.demo_tills))
        for handover, result in zip(
            handovers, match(handovers, transactions, window, time.time()), strict=True
        ):
            stored = current[handover.event_id]
            told = self._told.get(handover.event_id, stored.till_match)
            if result.outcome != told:
                self._tell(result, handover, stored)
                self._told[handover.event_id] = result.outcome

    def _read(
        self, con: duckdb.DuckDBPyConnection, tills: dict[str, str | None], window: Window
    ) -> tuple[list[Handover], dict[str, _Stored], list[Transaction]]:
        """The hand-overs whose outcome may still change (none yet, pending, or
        unmatched: a till's late batch may still bring their sale), their outcome now,
        and the transactions around them no earlier hand-over has taken."""
        rows = con.execute(
            "SELECT event_id, camera_id, epoch(started_at), till_match, site, snapshot_path, "
            "confidence FROM events "
            "WHERE event_type = 'cash' AND started_at IS NOT NULL "
            "AND (till_match IS NULL OR till_match IN ('pending', 'unmatched')) "
            f"AND started_at > now() - {LOOK_BACK} ORDER BY started_at"
        ).fetchall()
        handovers = [Handover(str(r[0]), tills.get(str(r[1])), float(r[2])) for r in rows]
        current = {str(row[0]): _Stored(*row[1:]) for row in rows}
        ids = sorted({h.till_id for h in handovers if h.till_id is not None})
        if not ids:
            return handovers, current, []
        low = min(h.at for h in handovers) - window.before_s - window.max_skew_s
        high = max(h.at for h in handovers) + window.after_s + window.max_skew_s
        marks = ", ".join("?" for _ in ids)
        found = con.execute(
            "SELECT till_id, reference, epoch(rung_up_at), amount, currency, kind "
            "FROM transactions "
            f"WHERE till_id IN ({marks}) "
            "AND rung_up_at BETWEEN to_timestamp(?) AND to_timestamp(?) "
            # a transaction an earlier hand-over took is taken for good
            "AND NOT EXISTS (SELECT 1 FROM events e WHERE e.till_match = 'matched' "
            "AND e.till_id = transactions.till_id "
            "AND e.till_reference = transactions.reference)",
            [*ids, low, high],
        ).fetchall()
        return handovers, current, [transaction_from_row(row) for row in found]

    def _tell(self, result: Match, handover: Handover, stored: _Stored) -> None:
        """Journal an outcome that changed (the ingest applies it next pass); with the
        event's camera, time and snapshot, for the alert an `unmatched` one sends."""
        tx = result.transaction
        self.journal.append(
            "till_match",
            {
                "event_id": result.event_id,
                "till_match": result.outcome,
                "till_id": handover.till_id,
                "till_reference": tx.reference if tx is not None else None,
                "camera_id": stored.camera_id,
                "site": stored.site,
                "started_at": handover.at,
                "confidence": stored.confidence,
                "snapshot_path": stored.snapshot_path,
            },
        )

    def _ring_up_demo(self, handovers: list[Handover], demo_tills: set[str]) -> None:
        """The demo till rings up most hand-overs and 'forgets' some, so the demo shows
        both outcomes: the first of each run and every third after it is forgotten."""
        # only the hand-overs still open are remembered (a rung-up one is matched and
        # read no more; a forgotten one for the two days it stays open)
        self._demo_done &= {h.event_id for h in handovers}
        for handover in handovers:
            till = handover.till_id
            if till not in demo_tills or handover.event_id in self._demo_done:
                continue
            self._demo_done.add(handover.event_id)
            number = self._demo_seen[till]
            self._demo_seen[till] += 1
            if number % DEMO_FORGETS_EVERY == 0:
                log.info("demo till %s: hand-over %s not rung up", till, handover.event_id)
                continue
            sale = Transaction(
                till, handover.at + DEMO_DELAY_S, 10.0, "USD", "sale", f"demo-{handover.event_id}"
            )
            journal_transactions(self.journal, [sale], "demo")


@dataclass(frozen=True)
class _Stored:
    """A cash event's row as the matching reads it."""

    camera_id: str
    started_at: float
    till_match: str | None
    site: str | None
    snapshot_path: str | None
    confidence: float | None
