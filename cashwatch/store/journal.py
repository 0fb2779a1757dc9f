"""The durable journal: JSON lines that workers, the manager and the dashboard append to.

Only the manager writes DuckDB (it holds the file's lock while it writes), so everyone
else records what happened here and the manager's `Ingestor` replays it. A line is
written with one `os.write` on an O_APPEND descriptor and fsync'd before `append`
returns, so a record a caller was told about survives a crash of either side.

When the disk is full the record is kept in memory and written, in order, on the
next `append` or `flush_pending()`: the worker goes on and nothing is lost.

A power cut can leave half a line at the end of a file (the write reached the disk, its
fsync did not). The next write starts on a new line, so the torn piece stays a line of
its own, which ingest skips with a warning, and the record after it is kept whole.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cashwatch.core.events import EventRecord
from cashwatch.util.files import make_private_dir

log = logging.getLogger(__name__)

JOURNAL_DIR = "journal"
REVIEW_SOURCE = "_review"
MANAGER_SOURCE = "_manager"
# What may be written. Ingest also still reads `delete`, which retention wrote before
# it learnt to keep rows (see cashwatch.store.records).
RECORD_KINDS = (
    "event",
    "clip",
    "event_end",
    "review",
    "worker_run",
    "expire",
    "transaction",
    "till_match",
)
TILL_SOURCE = "_till"  # the journal of till transactions and of the matches made
REVIEW_STATUSES = ("pending", "confirmed", "false_positive")


def journal_dir(data_dir: Path) -> Path:
    return Path(data_dir) / JOURNAL_DIR


def journal_file_name(ts: float) -> str:
    """Local calendar day of `ts`, e.g. `20250131.jsonl`."""
    return time.strftime("%Y%m%d", time.localtime(ts)) + ".jsonl"


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays reach us inside `details`; everything else is a bug.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot journal a {type(value).__name__}: {value!r}")


def encode_record(kind: str, payload: Mapping[str, Any]) -> bytes:
    """One journal line: `{"kind": kind, ...payload}` plus a newline."""
    if kind not in RECORD_KINDS:
        raise ValueError(f"unknown journal record kind {kind!r}; valid: {', '.join(RECORD_KINDS)}")
    line = json.dumps({"kind": kind, **payload}, default=_json_default, separators=(",", ":"))
    return line.encode("utf-8") + b"\n"


def open_journal_file(path: Path) -> int:
    """An append descriptor that can also read (to look at the last byte), owner-only."""
    return os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)


def _ends_torn(fd: int, size: int) -> bool:
    """Whether the file's last line lacks its newline (a write cut short by a crash)."""
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def write_line(fd: int, line: bytes) -> None:
    """Append `line` whole or not at all, then fsync; `fd` from `open_journal_file`.

    A short write (disk full, file size limit) would leave half a line that the next
    record glues onto; truncating back to the size before the write removes it. A torn
    tail left by a power cut cannot be told from a line being written, except that
    nobody writes without this flock: so under it, a tail without its newline is torn,
    and the new line goes after a newline of its own instead of being glued onto it
    (the glued line would be unreadable and the record, reported durable, lost). The
    flock also keeps two writers of one file (dashboard sessions) from truncating each
    other's lines.
    """
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        size_before = os.fstat(fd).st_size
        if _ends_torn(fd, size_before):
            log.warning(
                "journal: the last line of a file was torn (crash mid-write); "
                "starting a new line after it"
            )
            line = b"\n" + line
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(28, f"short write ({written} of {len(line)} bytes), disk full?")
            os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, size_before)
            except OSError:
                log.exception("cannot remove a partial journal line")
            raise
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


class JournalWriter:
    """Appends records to `journal/<source>/<YYYYMMDD>.jsonl`; an `EventSink`.

    Thread-safe: the worker's main thread journals events while the clip thread
    journals clip results.

    >>> writer = JournalWriter(data_dir, "cam1")            # doctest: +SKIP
    >>> writer.append("expire", {"event_id": "0193..."})    # doctest: +SKIP
    """

    def __init__(self, data_dir: Path, source: str) -> None:
        if not source or "/" in source or source.startswith("."):
            raise ValueError(f"journal source {source!r} must be a plain folder name")
        self.folder = journal_dir(data_dir) / source
        self.source = source
        self._lock = threading.Lock()
        self._pending: deque[bytes] = deque()
        self._fd: int | None = None
        self._fd_name = ""
        self._last_error_logged = 0.0

    @property
    def pending_count(self) -> int:
        """Records kept in memory because the disk refused them."""
        with self._lock:
            return len(self._pending)

    def append(self, kind: str, payload: Mapping[str, Any]) -> bool:
        """Journal one record; True once it (and everything before it) is on disk.

        Never raises on disk errors: the record waits in memory for the next try.
        """
        line = encode_record(kind, payload)
        with self._lock:
            self._pending.append(line)
            return self._flush_locked()

    def flush_pending(self) -> bool:
        """Retry records kept in memory; True when none is left."""
        with self._lock:
            return self._flush_locked()

    def emit_event(self, record: EventRecord) -> None:
        self.append("event", record.to_json_dict())

    def emit_clip(self, event_id: str, clip_path: str | None, error: str | None) -> None:
        self.append("clip", {"event_id": event_id, "clip_path": clip_path, "clip_error": error})

    def emit_end(self, event_id: str, ended_at: float) -> None:
        self.append("event_end", {"event_id": event_id, "ended_at": ended_at})

    def close(self) -> None:
        with self._lock:
            self._flush_locked()
            if self._pending:
                log.error(
                    "journal %s: %d record(s) could not be written before closing",
                    self.folder,
                    len(self._pending),
                )
            self._close_fd()

    def _flush_locked(self) -> bool:
        while self._pending:
            try:
                write_line(self._current_fd(), self._pending[0])
            except OSError as exc:
                self._log_write_error(exc)
                return False
            self._pending.popleft()
        return True

    def _current_fd(self) -> int:
        name = journal_file_name(time.time())
        if self._fd is None or name != self._fd_name:
            self._close_fd()
            make_private_dir(self.folder)
            self._fd = open_journal_file(self.folder / name)
            self._fd_name = name
        return self._fd

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _log_write_error(self, exc: OSError) -> None:
        # One line a minute is enough while the disk stays full.
        now = time.monotonic()
        if now - self._last_error_logged > 60.0:
            self._last_error_logged = now
            log.error(
                "journal %s: cannot write (%s); %d record(s) kept in memory",
                self.folder,
                exc,
                len(self._pending),
            )


def submit_review(
    data_dir: Path,
    event_id: str,
    review_status: str,
    notes: str = "",
    *,
    reviewed_by: str | None = None,
) -> None:
    """Record a reviewer's verdict (dashboard); the manager applies it to the event.

    `reviewed_by` is the signed-in user's name; None (a tool without a user) is stored
    as NULL. Raises ValueError for an unknown status and OSError when the disk refuses
    the line, so the dashboard can tell the reviewer it was not saved.

    >>> submit_review(data_dir, "0193...", "confirmed", reviewed_by="alice")  # doctest: +SKIP
    """
    if review_status not in REVIEW_STATUSES:
        raise ValueError(f"review_status {review_status!r}; valid: {', '.join(REVIEW_STATUSES)}")
    if not event_id:
        raise ValueError("event_id is empty")
    if reviewed_by is not None and not reviewed_by.strip():
        # an empty name would read as a reviewer called ""; None says "unknown" honestly
        raise ValueError(f"reviewed_by must be a user name or None, got {reviewed_by!r}")
    line = encode_record(
        "review",
        {
            "event_id": event_id,
            "review_status": review_status,
            "notes": notes,
            "reviewed_at": time.time(),
            "reviewed_by": reviewed_by,
        },
    )
    folder = journal_dir(data_dir) / REVIEW_SOURCE
    make_private_dir(folder)
    fd = open_journal_file(folder / journal_file_name(time.time()))
    try:
        write_line(fd, line)
    finally:
        os.close(fd)
