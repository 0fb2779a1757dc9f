"""Transactions into the journal: from a CSV file (the inbox folder, `cashwatch till
import`) or from the demo till. Every transaction goes through the `_till` journal,
which the manager ingests into DuckDB like everything else, so none is lost when the
database is busy or damaged.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from cashwatch.store.journal import TILL_SOURCE, JournalWriter
from cashwatch.till.transactions import Rejected, Transaction, parse_csv

log = logging.getLogger(__name__)

DONE_DIR = Path("till") / "done"


@dataclass(frozen=True)
class ImportReport:
    """What an import took and what it refused (by line)."""

    name: str
    taken: int
    rejected: tuple[Rejected, ...]

    def summary(self) -> str:
        text = f"{self.name}: {self.taken} transaction(s) imported"
        if self.rejected:
            text += f", {len(self.rejected)} line(s) rejected"
        return text

    def lines(self) -> list[str]:
        return [f"line {r.line}: {r.reason}" for r in self.rejected]


def journal_transactions(
    journal: JournalWriter, transactions: list[Transaction], source: str
) -> None:
    for transaction in transactions:
        journal.append("transaction", {**transaction.to_record(), "source": source})


def import_csv(path: Path, journal: JournalWriter) -> ImportReport:
    """Journal the good lines of one CSV file; OSError/UnicodeError if it cannot be read."""
    text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's export may start with a BOM
    taken, rejected = parse_csv(text)
    journal_transactions(journal, taken, f"csv:{path.name}")
    return ImportReport(path.name, len(taken), tuple(rejected))


def import_inbox(data_dir: Path, inbox: Path, journal: JournalWriter) -> list[ImportReport]:
    """Import every CSV file in the inbox, then move it (and a note of the lines it
    refused) to `till/done/`, so it is imported once."""
    folder = inbox if inbox.is_absolute() else data_dir / inbox
    if not folder.is_dir():
        return []
    reports = []
    for path in sorted(folder.glob("*.csv")):
        if time.time() - path.stat().st_mtime < 1.0:
            continue  # still being written (a copy in progress): next round
        done = data_dir / DONE_DIR
        done.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        try:
            report = import_csv(path, journal)
        except (OSError, UnicodeError) as exc:
            log.error("till inbox: cannot read %s: %s; moved to %s", path.name, exc, done)
            shutil.move(str(path), done / f"{stamp}-{path.name}")
            continue
        if report.rejected:
            (done / f"{stamp}-{path.name}.rejected.txt").write_text(
                "\n".join(report.lines()) + "\n", encoding="utf-8"
            )
            log.warning("till inbox: %s; %s", report.summary(), "; ".join(report.lines()[:5]))
        else:
            log.info("till inbox: %s", report.summary())
        shutil.move(str(path), done / f"{stamp}-{path.name}")
        reports.append(report)
    return reports


def till_journal(data_dir: Path) -> JournalWriter:
    return JournalWriter(data_dir, TILL_SOURCE)
