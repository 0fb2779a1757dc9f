"""Noticing config edits: watchdog events, debounced, with an mtime poll as fallback
(watchdog misses events on some network filesystems and editors that swap files)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Literal

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

DEBOUNCE_S = 0.3
POLL_EVERY_S = 5.0
# Only events that can change the content. inotify also reports opens and read-only
# closes: reacting to those, the manager's own reload (and every dashboard run that
# reads the config) would trigger the next reload, forever.
CHANGING_EVENTS = frozenset(
    {
        EVENT_TYPE_CREATED,
        EVENT_TYPE_MODIFIED,
        EVENT_TYPE_MOVED,
        EVENT_TYPE_DELETED,
        EVENT_TYPE_CLOSED,
    }
)


class _Handler(FileSystemEventHandler):
    def __init__(self, target: Path, flag: threading.Event) -> None:
        self._target = target
        self._flag = flag

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in CHANGING_EVENTS:
            return
        paths = {str(event.src_path), str(getattr(event, "dest_path", "") or "")}
        if str(self._target) in paths:
            self._flag.set()


Stamp = tuple[int, int] | None  # (mtime_ns, size); None: no file


def file_stamp(path: Path) -> Stamp:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


class ConfigWatcher:
    """`since`: the file's stamp when the running config was read (taken before
    reading). The manager loads the config well before it starts watching (lock, data
    folder, database): an edit in between would otherwise never be noticed. With it, the
    first `changed()` compares at once; without it, the file as it is now counts as seen.
    """

    def __init__(self, path: Path, since: Stamp | Literal["now"] = "now") -> None:
        self.path = path
        self._flag = threading.Event()
        self._observer = Observer()
        self._observer.schedule(_Handler(path, self._flag), str(path.parent), recursive=False)
        known = since != "now"
        self._stamp = self._read_stamp() if since == "now" else since
        self._next_poll = time.monotonic() + (0.0 if known else POLL_EVERY_S)
        self._changed_at: float | None = None

    def _read_stamp(self) -> Stamp:
        return file_stamp(self.path)

    def start(self) -> None:
        self._observer.start()

    def changed(self) -> bool:
        """True once per settled change (no further event for DEBOUNCE_S)."""
        now = time.monotonic()
        if self._flag.is_set():
            self._flag.clear()
            self._changed_at = now
        elif now >= self._next_poll:
            self._next_poll = now + POLL_EVERY_S
            if self._read_stamp() != self._stamp:
                self._changed_at = now - DEBOUNCE_S
        if self._changed_at is not None and now - self._changed_at >= DEBOUNCE_S:
            self._changed_at = None
            self._stamp = self._read_stamp()
            return True
        return False

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=5)
