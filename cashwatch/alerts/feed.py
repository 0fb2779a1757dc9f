"""The events alerts are made from, read from the cameras' journals themselves.

Not from the database: a damaged or locked `cashwatch.duckdb` must not keep a fire from
being reported. The feed keeps its own read offsets (`alerts/offsets.json`) and moves
them only after what it read is in the outbox (`commit`), so a crash in between reads
those lines again, and the outbox recognises the alerts it queued already.

A manager that starts with no offsets (the first start with alerts, or a data folder
from before them) begins at the journals' current ends: the history is not news.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cashwatch.alerts.state import alerts_dir
from cashwatch.store.journal import TILL_SOURCE, journal_dir, journal_file_name
from cashwatch.util.files import atomic_write_text, make_private_dir

log = logging.getLogger(__name__)

OFFSETS_FILE = "offsets.json"
# 2: the tills' journal is read too. Saved among the offsets under a key no journal file
# has (file keys are `<folder>/<day>.jsonl`).
VERSION = 2
VERSION_KEY = "version"
MAX_BYTES_PER_READ = 256 << 10
KINDS = ("event", "event_end")
# the tills' journal (cashwatch.till.imports.till_journal): its till exceptions, and the
# hand-overs found to have no sale behind them
TILL_KINDS = (*KINDS, "till_match")


@dataclass(frozen=True)
class JournalRecord:
    """An event, event_end or (from the tills' journal) unmatched till_match line, and
    the journal it came from."""

    source: str  # the journal folder: the camera id, or `_till`
    record: dict[str, Any]


class JournalFeed:
    """Reads new event lines from `journal/<camera>/*.jsonl`; the manager's loop only.

    >>> feed = JournalFeed(data_dir)         # doctest: +SKIP
    >>> records = feed.read()                # doctest: +SKIP
    >>> feed.commit()                        # doctest: +SKIP
    """

    def __init__(self, data_dir: Path) -> None:
        self.journal = journal_dir(data_dir)
        self.path = alerts_dir(data_dir) / OFFSETS_FILE
        saved, version = self._load()
        self.offsets: dict[str, int] = saved if saved is not None else self._ends()
        self._read_to: dict[str, int] = {}
        if saved is not None and version < VERSION:
            # offsets of a CashWatch that did not read the tills' journal: its lines so
            # far are history, not news (its old unmatched lines name no camera)
            ends = self._ends()
            self.offsets.update({k: v for k, v in ends.items() if k.startswith(TILL_SOURCE)})
        if saved is None or version < VERSION:
            self._save(self.offsets)

    def read(self) -> list[JournalRecord]:
        """Event lines appended since the last commit (at most MAX_BYTES_PER_READ)."""
        # imported here: the ingest module loads DuckDB, which the CLI need not
        from cashwatch.store.ingest import read_complete_lines

        out: list[JournalRecord] = []
        budget = MAX_BYTES_PER_READ
        self._read_to = {}
        for key, path in self._files():
            offset = self.offsets.get(key, 0)
            try:
                size = path.stat().st_size
                if size < offset:  # replaced under us (a restore): read it again
                    offset = 0
                if size == offset or budget <= 0:
                    continue
                data, end = read_complete_lines(path, offset, budget)
            except FileNotFoundError:
                continue
            budget -= end - offset
            self._read_to[key] = end
            out += _records(key.split("/", 1)[0], data)
        return out

    def commit(self) -> None:
        """What `read` returned is queued: do not read it again."""
        if not self._read_to:
            return
        self.offsets.update(self._read_to)
        self._read_to = {}
        # forget the files retention removed
        present = {key for key, _ in self._files()}
        self.offsets = {key: value for key, value in self.offsets.items() if key in present}
        self._save(self.offsets)

    def _files(self) -> list[tuple[str, Path]]:
        """Today's and yesterday's file of each camera: a worker writes to the file of
        the day it writes in, so older ones get no new lines (and a site keeps 30 days
        of them: looking at those 5 times a second would be thousands of stat calls)."""
        if not self.journal.is_dir():
            return []
        now = time.time()
        names = sorted({journal_file_name(now - 86400.0), journal_file_name(now)})
        return [
            (f"{folder.name}/{name}", folder / name)
            for folder in sorted(self.journal.iterdir())
            # the manager's and the reviews' journals hold no events; the tills' does
            if (not folder.name.startswith("_") or folder.name == TILL_SOURCE) and folder.is_dir()
            for name in names
            if (folder / name).is_file()
        ]

    def _ends(self) -> dict[str, int]:
        ends = {}
        for key, path in self._files():
            try:
                ends[key] = path.stat().st_size
            except FileNotFoundError:
                continue
        return ends

    def _load(self) -> tuple[dict[str, int] | None, int]:
        """The saved offsets and the version of the feed that saved them."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None, VERSION
        except (OSError, ValueError) as exc:
            # starting at the ends loses the lines since the last save; starting at 0
            # would re-alert the whole history: the outbox's keys only reach 2 days back
            log.error("cannot read %s (%s); alerts start from the journals' ends", self.path, exc)
            return None, VERSION
        version = raw.pop(VERSION_KEY, 1)
        offsets = {str(k): int(v) for k, v in raw.items() if isinstance(v, int) and v >= 0}
        return offsets, version if isinstance(version, int) else 1

    def _save(self, offsets: dict[str, int]) -> None:
        make_private_dir(self.path.parent)
        text = json.dumps({**offsets, VERSION_KEY: VERSION}, sort_keys=True, indent=0)
        atomic_write_text(self.path, text)


def _records(source: str, data: bytes) -> list[JournalRecord]:
    kinds = TILL_KINDS if source == TILL_SOURCE else KINDS
    out = []
    for raw in data.splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # a torn line: the ingest reports it; it holds no event anyway
        if not isinstance(record, dict) or record.get("kind") not in kinds:
            continue
        if record["kind"] == "till_match" and record.get("till_match") != "unmatched":
            continue  # only a hand-over with no sale is news
        out.append(JournalRecord(source, record))
    return out
