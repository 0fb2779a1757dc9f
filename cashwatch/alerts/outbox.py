"""The durable outbox: every alert a target is to get, on disk before it is sent.

`alerts/outbox.jsonl` holds two kinds of line, written with the journal's discipline
(one write, flock, fsync: cashwatch.store.journal.write_line): `add` (an alert queued
for a target) and `done` (the target took it, or it was dropped as too old). On start
the file is read back: what was added and not done is pending again, in its order, so
a manager that crashed or was stopped while a target was down sends those alerts once
it runs again. A `done` line written after the target took the alert and before a
crash can be missing: that alert is sent a second time, with the same `alert_id`, which
the receiver uses to drop it. Nothing is ever sent zero times.

The file is rewritten (atomically) once it grows past COMPACT_BYTES: pending entries
and the keys of recent ones stay, so a journal line read again after a crash is still
recognised as queued already.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cashwatch.alerts.message import Alert
from cashwatch.alerts.state import alerts_dir
from cashwatch.store.journal import open_journal_file, write_line
from cashwatch.util.files import atomic_write_bytes, make_private_dir

log = logging.getLogger(__name__)

OUTBOX_FILE = "outbox.jsonl"
COMPACT_BYTES = 4 << 20
# How long the key of a delivered alert is remembered across a compaction: longer than
# any replay of the journal after a crash can reach back.
REMEMBER_DONE_S = 2 * 86400.0
Outcome = Literal["sent", "dropped"]


@dataclass(frozen=True)
class Entry:
    """One alert queued for one target."""

    target: str
    alert: Alert


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), default=str).encode("utf-8") + b"\n"


class Outbox:
    """Queued alerts per target, in the order they were added; thread-safe.

    The manager's loop adds, each target's sender thread takes its own head and marks
    it done. `add` returns only once the line is on disk.

    >>> outbox = Outbox(data_dir)                      # doctest: +SKIP
    >>> outbox.add("hook", alert)                      # doctest: +SKIP
    True
    >>> outbox.head("hook") == alert                   # doctest: +SKIP
    True
    >>> outbox.done("hook", alert.alert_id, "sent")    # doctest: +SKIP
    """

    def __init__(self, data_dir: Path) -> None:
        self.folder = make_private_dir(alerts_dir(data_dir))
        self.path = self.folder / OUTBOX_FILE
        self._lock = threading.Lock()
        self._pending: dict[str, deque[Alert]] = {}
        # (target, alert_id) -> when it was done (0.0 while pending)
        self._known: dict[tuple[str, str], float] = {}
        self._load()
        self._fd = open_journal_file(self.path)
        # compacted past this size: twice what the last compaction left, so a large set
        # of recent keys is not rewritten at every alert
        self._compact_at = max(COMPACT_BYTES, 2 * self._size())
        self._closed = False

    # the manager's side ------------------------------------------------------------
    def add(self, target: str, alert: Alert) -> bool:
        """Queue `alert` for `target`, durably; False when it was queued before."""
        key = (target, alert.alert_id)
        with self._lock:
            if key in self._known:
                return False
            if self._closed:
                raise OSError("the alert outbox is closed")
            write_line(self._fd, _line({"op": "add", "target": target, "alert": alert.to_record()}))
            self._known[key] = 0.0
            self._pending.setdefault(target, deque()).append(alert)
            return True

    def pending_counts(self) -> dict[str, int]:
        with self._lock:
            return {target: len(queue) for target, queue in self._pending.items()}

    # a target's sender thread ------------------------------------------------------
    def head(self, target: str) -> Alert | None:
        """The oldest alert `target` has not taken yet."""
        with self._lock:
            queue = self._pending.get(target)
            return queue[0] if queue else None

    def done(self, target: str, alert_id: str, outcome: Outcome) -> None:
        """`target` took the alert (sent) or it was given up (dropped): durably."""
        now = time.time()
        record = {"op": "done", "target": target, "id": alert_id, "outcome": outcome, "ts": now}
        with self._lock:
            if self._closed:  # a sender thread that outlived the stop: sent again next start
                return
            write_line(self._fd, _line(record))
            queue = self._pending.get(target)
            if queue and queue[0].alert_id == alert_id:
                queue.popleft()
            elif queue:
                self._pending[target] = deque(a for a in queue if a.alert_id != alert_id)
            self._known[(target, alert_id)] = now
            if self._size() > self._compact_at:
                self._compact_locked(now)

    def drop_older(self, target: str, cutoff: float) -> int:
        """Give up `target`'s alerts made before `cutoff` (a removed target's)."""
        with self._lock:  # the target's thread may be taking its head meanwhile
            doomed = [a.alert_id for a in self._pending.get(target, ()) if a.created_at < cutoff]
        for alert_id in doomed:
            self.done(target, alert_id, "dropped")
        return len(doomed)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._fd)

    # file ------------------------------------------------------------------------
    def _size(self) -> int:
        return os.fstat(self._fd).st_size

    def _load(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        added: dict[tuple[str, str], Alert] = {}
        for number, raw in enumerate(data.splitlines(), start=1):
            try:
                self._replay(json.loads(raw), added)
            except (ValueError, TypeError, KeyError) as exc:
                # a line torn by a power cut: its alert was never reported queued
                log.warning(
                    "alert outbox %s line %d unreadable (%s); skipped", self.path, number, exc
                )
        for (target, _), alert in added.items():
            self._pending.setdefault(target, deque()).append(alert)
        pending = sum(len(queue) for queue in self._pending.values())
        if pending:
            log.info("alert outbox: %d alert(s) still to send from before the start", pending)

    def _replay(self, record: dict[str, Any], added: dict[tuple[str, str], Alert]) -> None:
        target = str(record["target"])
        if record["op"] == "add":
            alert = Alert.from_record(record["alert"])
            key = (target, alert.alert_id)
            if key not in self._known:
                self._known[key] = 0.0
                added[key] = alert
        elif record["op"] == "done":
            key = (target, str(record["id"]))
            self._known[key] = float(record.get("ts", 0.0)) or time.time()
            added.pop(key, None)

    def _compact_locked(self, now: float) -> None:
        """Rewrite the file with the pending entries and the recent done keys."""
        lines = [
            _line({"op": "done", "target": target, "id": alert_id, "outcome": "sent", "ts": ts})
            for (target, alert_id), ts in self._known.items()
            if ts and now - ts < REMEMBER_DONE_S
        ]
        lines += [
            _line({"op": "add", "target": target, "alert": alert.to_record()})
            for target, queue in self._pending.items()
            for alert in queue
        ]
        atomic_write_bytes(self.path, b"".join(lines), private=True)
        os.close(self._fd)
        self._fd = open_journal_file(self.path)
        self._compact_at = max(COMPACT_BYTES, 2 * self._size())
        self._known = {
            key: ts for key, ts in self._known.items() if not ts or now - ts < REMEMBER_DONE_S
        }
