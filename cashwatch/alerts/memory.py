"""What alerting remembers between passes, and across a restart.

An end must go where its start went (a receiver told ON must be told OFF), also when
the manager restarted in between: the open events (each start alert and the targets it
went to) are kept in `alerts/open.json`, rewritten atomically in the pass that changed
them, before the feed moves on. A camera_down whose camera was down at the restart is
taken up again from there, so its return still sends the end.

A pass works on a copy (`Memory.copy`) that replaces the old one only once everything
it queued is on disk: a pass that fails half-way (a full disk) leaves the memory as it
was, and the next pass, reading the same journal lines again, decides the same way.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from cashwatch.alerts import camera_down
from cashwatch.alerts.message import Alert
from cashwatch.alerts.routing import OPEN_EVENTS_KEPT, RoutingBook
from cashwatch.alerts.state import alerts_dir
from cashwatch.util.files import atomic_write_text

log = logging.getLogger(__name__)

OPEN_FILE = "open.json"
DOWN_PREFIX = "down-"  # the event ids of camera_down alerts made from a camera's state


@dataclass
class Memory:
    """Routing's book, the open events' start alerts, the cameras' troubles and the
    event counts since the start."""

    book: RoutingBook = field(default_factory=RoutingBook)
    starts: dict[str, Alert] = field(default_factory=dict)
    troubles: dict[str, camera_down.Trouble] = field(default_factory=dict)
    events: Counter[tuple[str, str]] = field(default_factory=Counter)

    def copy(self) -> Memory:
        return Memory(
            RoutingBook(dict(self.book.last_sent), OrderedDict(self.book.open_events)),
            dict(self.starts),
            dict(self.troubles),
            Counter(self.events),
        )

    def remember_start(self, alert: Alert) -> None:
        self.starts[alert.event_id] = alert
        while len(self.starts) > OPEN_EVENTS_KEPT:
            self.starts.pop(next(iter(self.starts)))

    def open_record(self) -> dict[str, object]:
        """The open events as stored: start alert and targets, for those that went out."""
        return {
            event_id: {"alert": self.starts[event_id].to_record(), "targets": list(targets)}
            for event_id, targets in self.book.open_events.items()
            if targets and event_id in self.starts
        }


def save_open(data_dir: Path, memory: Memory) -> None:
    atomic_write_text(alerts_dir(data_dir) / OPEN_FILE, json.dumps(memory.open_record()))


def load_open(data_dir: Path) -> Memory:
    """The memory a restart begins with: the open events and the cameras then down."""
    memory = Memory()
    path = alerts_dir(data_dir) / OPEN_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        for event_id, entry in raw.items():
            start = Alert.from_record(entry["alert"])
            memory.remember_start(start)
            memory.book.open_events[event_id] = tuple(str(t) for t in entry["targets"])
            if event_id.startswith(DOWN_PREFIX):
                memory.troubles[start.camera_id] = camera_down.Trouble(start.started_at, start)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # the ends of events open now go to the targets their filters pick instead
        log.warning("cannot read %s (%s); open events forgotten", path, exc)
    return memory
