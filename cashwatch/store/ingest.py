"""The manager's side of the journal: replay new lines into DuckDB.

Each `poll()` reads the complete lines appended since the last one, applies them in
one short transaction (open, write, close: readers get the file in between), and only
then records how far it got in `journal/offsets.json`. A crash between the commit and
that write replays the lines, which the idempotent upserts absorb; nothing is skipped.
When a reader holds the file the lines simply stay where they are until the next poll.

When the file cannot be written for any other reason (damaged, disk full, unreadable)
the lines stay too, `db_error` says why, and the next tries come after 1, 2, 4, 8, 10,
10 … s instead of every poll (5 a second). Only a record the database refuses as data
(a wrong type, a value out of range) is skipped; an error of the file itself never
consumes a line.

`backlog()` says how many complete lines wait and for how long (the manager's
metrics, read from their HTTP thread while `poll()` runs on the manager's loop).

Ingested journal files are kept `keep_days` (default 30, `[retention] journal_days`):
`cashwatch db recover` rebuilds a damaged database from them (cashwatch/store/recover.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import duckdb

from cashwatch.evidence.paths import remove_evidence
from cashwatch.store.db import DatabaseBusyError, db_path, open_writable
from cashwatch.store.errors import short_reason
from cashwatch.store.journal import journal_dir, journal_file_name
from cashwatch.store.records import BadRecordError, apply_record
from cashwatch.util.backoff import Backoff
from cashwatch.util.files import atomic_write_text, make_private_dir

log = logging.getLogger(__name__)

OFFSETS_FILE = "offsets.json"
MAX_BYTES_PER_POLL = 256 << 10  # read per poll; what the time budget leaves is read again
TRANSACTION_BUDGET_S = 0.3  # a write transaction stops taking lines after this
CLEANUP_EVERY_S = 60.0
DEFAULT_KEEP_DAYS = 30.0
RETRY_INITIAL_S = 1.0  # after a write the file itself refused (not a reader's lock)
# 10 s, not minutes: a disk that was full is caught up within ~10 s of space returning,
# and a try on a damaged file costs one failed open (milliseconds) and no log line.
RETRY_MAX_S = 10.0
REBUILD_MARKER = "rebuild-in-progress"  # in journal/: offsets.json may not describe the file
BACKLOG_CHUNK = 1 << 20  # backlog() counts newlines this many bytes at a time

# Errors that make a whole batch go through one record at a time. DataError (a value the
# column cannot take: ConversionException, OutOfRange …) is a record's own. IntegrityError
# too, in a batch: DuckDB refuses a second upsert of one key inside a transaction.
BATCH_FALLBACK_ERRORS: tuple[type[Exception], ...] = (duckdb.DataError, duckdb.IntegrityError)
# What skips (and so consumes) one line: only a record's own values. Not IntegrityError:
# every table has just its key as constraint and every write is an upsert, so alone in
# its transaction a record cannot violate one; the schema (a NOT NULL added by hand) can.
# Nor Binder/Catalog/InvalidInput errors: those come from the schema or the catalog and
# would fail every record the same way. Those errors are the database's: they skip
# nothing, set `db_error` and are retried.
RECORD_ERRORS: tuple[type[Exception], ...] = (BadRecordError, duckdb.DataError)


@dataclass(frozen=True)
class IngestBacklog:
    """Journal lines not yet in the database, and how long they have waited.

    Attributes:
        lines: Complete lines past the ingested offsets, over every journal file (a line
            still being written, without its newline, is not counted).
        lag_s: 0 when `lines` is 0; otherwise the seconds since a poll last found no new
            line (or since the ingestor was made, before any did). Every waiting line
            arrived after that moment, so this bounds how long the oldest has waited: it
            is at most a poll interval (0.2 s) while ingest keeps up, and grows for as long
            as a reader's lock, a database error or a flood of lines holds it back.
    """

    lines: int = 0
    lag_s: float = 0.0


@dataclass(frozen=True)
class _Line:
    """One complete journal line; `record` is None when it could not be parsed."""

    key: str  # "<source>/<YYYYMMDD>.jsonl"
    end_offset: int  # where the next line of that file starts
    record: dict[str, Any] | None


def _parse_lines(key: str, start: int, data: bytes) -> list[_Line]:
    lines = []
    offset = start
    for raw in data.splitlines(keepends=True):
        record: dict[str, Any] | None = None
        try:
            parsed = json.loads(raw)
            if not isinstance(parsed, dict):
                raise ValueError("not a JSON object")
            record = parsed
        except ValueError as exc:
            log.warning("journal %s at byte %d: skipping unreadable line (%s)", key, offset, exc)
        offset += len(raw)
        lines.append(_Line(key, offset, record))
    return lines


def read_complete_lines(path: Path, offset: int, max_bytes: int) -> tuple[bytes, int]:
    """Bytes from `offset` up to the last newline (a line still being written waits)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read(max_bytes)
    end = data.rfind(b"\n") + 1
    if end == 0 and len(data) == max_bytes:
        # One line longer than a whole poll's budget: read it alone rather than stall.
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.readline()
        end = len(data) if data.endswith(b"\n") else 0
    return data[:end], offset + end


def count_lines_after(path: Path, offset: int) -> int:
    """Newlines from `offset` to the end of the file (from 0 when it shrank below it),
    read BACKLOG_CHUNK bytes at a time; 0 for a file that is gone."""
    try:
        size = path.stat().st_size
        if size == offset:
            return 0  # the usual case, caught up: no need to open it
        with path.open("rb") as handle:
            handle.seek(offset if offset <= size else 0)  # shrunk: poll replays it whole
            return sum(
                chunk.count(b"\n") for chunk in iter(partial(handle.read, BACKLOG_CHUNK), b"")
            )
    except FileNotFoundError:
        return 0


class Ingestor:
    """Replays `journal/*/*.jsonl` into `cashwatch.duckdb`; the manager calls `poll()`.

    >>> ingestor = Ingestor(data_dir)          # doctest: +SKIP
    >>> ingestor.poll()                         # doctest: +SKIP
    3
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        max_bytes_per_poll: int = MAX_BYTES_PER_POLL,
        transaction_budget_s: float = TRANSACTION_BUDGET_S,
        keep_days: float = DEFAULT_KEEP_DAYS,
        replay_all: bool = False,
    ) -> None:
        """`replay_all`: start every journal at offset 0 (`db recover`'s rebuild)."""
        self.data_dir = Path(data_dir)
        self.keep_s = keep_days * 86400.0
        self.max_bytes_per_poll = max_bytes_per_poll
        self.transaction_budget_s = transaction_budget_s
        self.journal = journal_dir(self.data_dir)
        self.offsets_path = self.journal / OFFSETS_FILE
        self.marker_path = self.journal / REBUILD_MARKER
        self.rebuilding = self.marker_path.exists()
        self.offsets: dict[str, int] = {} if replay_all else self._load_offsets()
        # What backlog() reads from another thread: a copy that _save_offsets replaces
        # whole and nothing changes in place (self.offsets is, mid-poll).
        self._offsets_seen: Mapping[str, int] = dict(self.offsets)
        self._caught_up_mono = time.monotonic()  # the last poll that found no new line
        self.busy_polls = 0  # polls that found the database locked by a reader
        self.failed_writes = 0  # tries the file itself refused (damaged, disk full)
        self._next_cleanup = 0.0
        self._last_write_error = -1e9
        self.db_error = ""  # why the database cannot be written; "" when it can
        self._retry = Backoff(initial_s=RETRY_INITIAL_S, max_s=RETRY_MAX_S)
        self._next_try = 0.0  # monotonic; no write before it after a failure

    def poll(self) -> int:
        """Apply new journal lines; returns how many records were applied (0 if locked).

        Never raises for the database's sake: a failure sets `db_error` and leaves the
        lines for a later try.
        """
        if time.monotonic() < self._next_try:
            return 0
        try:
            return self._poll()
        except DatabaseBusyError:
            self.busy_polls += 1
            return 0
        except (duckdb.Error, OSError) as exc:
            # The database, or the journal folder (unreadable file, offsets not saved):
            # either way the lines stay, the reason shows, and the next try waits.
            self._write_failed(exc)
            return 0

    def _poll(self) -> int:
        lines = self._read_new()
        if not lines:
            self._caught_up_mono = time.monotonic()
        if not lines and db_path(self.data_dir).exists() and not self.db_error:
            self._rebuild_done()
            self._maybe_cleanup()
            return 0
        consumed, applied, doomed_files = self._write(lines)
        self._write_succeeded()
        for line in lines[:consumed]:
            self.offsets[line.key] = line.end_offset
        if consumed:
            self._save_offsets()
        remove_evidence(self.data_dir, doomed_files)
        self._maybe_cleanup()
        return applied

    def drain(self) -> int:
        """Apply every line not yet applied (a rebuild); raises if the database fails.

        >>> Ingestor(data_dir).drain()              # doctest: +SKIP
        1234
        """
        applied = 0
        while lines := self._read_new():
            consumed, count, doomed = self._write(lines)
            for line in lines[:consumed]:
                self.offsets[line.key] = line.end_offset
            self._save_offsets()
            remove_evidence(self.data_dir, doomed)
            applied += count
        if not db_path(self.data_dir).exists():
            self._write([])  # no journal at all: still leave an empty, current database
        self._rebuild_done()
        return applied

    def backlog(self) -> IngestBacklog:
        """The lines that wait and for how long (see IngestBacklog); safe to call from
        another thread while `poll()` runs, and cheap while ingest keeps up (a stat per
        journal file; a file with lines waiting is read from its offset to its end)."""
        offsets, caught_up = self._offsets_seen, self._caught_up_mono  # snapshots
        lines = sum(
            count_lines_after(path, offsets.get(key, 0)) for key, path in self.journal_files()
        )
        return IngestBacklog(lines, max(0.0, time.monotonic() - caught_up) if lines else 0.0)

    def close(self) -> None:
        """Nothing is held between polls; kept for the manager's symmetry."""
        return None

    def _write_failed(self, exc: BaseException) -> None:
        """The file itself refused (damaged, disk full): keep the lines, wait, say why.

        Said in the log when the reason changes and then once a minute, not on every
        try: the operator needs to read that log.
        """
        self.failed_writes += 1
        delay = self._retry.next_delay()
        self._next_try = time.monotonic() + delay
        reason = short_reason(exc)
        now = time.monotonic()
        if reason != self.db_error or now - self._last_write_error >= 60.0:
            self._last_write_error = now
            log.error(
                "cannot ingest into %s: %s (journal keeps every record; retrying in %.0f s, "
                "then up to every %.0f s)",
                db_path(self.data_dir),
                reason,
                delay,
                RETRY_MAX_S,
            )
        self.db_error = reason

    def _write_succeeded(self) -> None:
        if self.db_error:
            log.info("%s is writable again; catching up from the journal", db_path(self.data_dir))
        self.db_error = ""
        self._retry.reset()
        self._next_try = 0.0

    def _write(self, lines: list[_Line]) -> tuple[int, int, list[str]]:
        con = open_writable(self.data_dir)
        try:
            return self._apply(con, lines)
        finally:
            con.close()

    def _apply(
        self, con: duckdb.DuckDBPyConnection, lines: list[_Line]
    ) -> tuple[int, int, list[str]]:
        """Apply lines in one transaction until the time budget runs out.

        Returns (lines consumed, records applied, evidence files to delete).
        """
        con.execute("BEGIN TRANSACTION")
        try:
            consumed, applied, doomed = self._apply_within_budget(con, lines)
            con.execute("COMMIT")
        except BATCH_FALLBACK_ERRORS as exc:
            # One line the database refuses must not block every line after it.
            con.execute("ROLLBACK")
            log.warning(
                "ingest batch failed (%s); applying its records one by one", short_reason(exc)
            )
            return _apply_one_by_one(con, lines)
        except duckdb.Error:
            _rollback_quietly(con)  # a damaged file may refuse the rollback too
            raise
        return consumed, applied, doomed

    def _apply_within_budget(
        self, con: duckdb.DuckDBPyConnection, lines: list[_Line]
    ) -> tuple[int, int, list[str]]:
        # DuckDB upserts cost ~10 ms each here; readers wait for the whole transaction.
        deadline = time.monotonic() + self.transaction_budget_s
        doomed: list[str] = []
        applied = consumed = 0
        for line in lines:
            if consumed and time.monotonic() > deadline:
                break
            consumed += 1
            if line.record is None:
                continue
            try:
                doomed += apply_record(con, line.record)
                applied += 1
            except BadRecordError as exc:
                log.warning("skipping journal record %s: %s", _describe(line.record), exc)
        return consumed, applied, doomed

    def journal_files(self) -> list[tuple[str, Path]]:
        if not self.journal.is_dir():
            return []
        files = [
            (f"{path.parent.name}/{path.name}", path)
            for path in self.journal.glob("*/*.jsonl")
            if path.is_file()
        ]
        # Cameras first, then `_manager` and `_review`: their expiries and reviews refer to
        # events that must already be there, also when a crash makes everything replay.
        return sorted(files, key=lambda item: (item[0].startswith("_"), item[0]))

    def _read_new(self) -> list[_Line]:
        lines: list[_Line] = []
        budget = self.max_bytes_per_poll
        for key, path in self.journal_files():
            if budget <= 0:
                break
            offset = self.offsets.get(key, 0)
            try:
                size = path.stat().st_size
                if size < offset:
                    log.warning("journal %s shrank below its ingested offset; replaying it", key)
                    offset = 0
                if size == offset:
                    continue
                data, end = read_complete_lines(path, offset, budget)
            except FileNotFoundError:
                continue
            if end > offset:
                lines += _parse_lines(key, offset, data)
                budget -= end - offset
        return lines

    def _maybe_cleanup(self) -> None:
        now = time.time()
        if now < self._next_cleanup:
            return
        self._next_cleanup = now + CLEANUP_EVERY_S
        if self.remove_ingested_files(now) or self._forget_missing():
            self._save_offsets()

    def remove_ingested_files(self, now: float) -> int:
        """Delete journal files fully ingested and untouched for `keep_days` (never today's).

        Kept that long, not deleted once ingested: they are what `cashwatch db recover`
        rebuilds a damaged database from.
        """
        today = journal_file_name(now)
        removed = 0
        for key, path in self.journal_files():
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            done = self.offsets.get(key) == stat.st_size
            if done and path.name != today and now - stat.st_mtime > self.keep_s:
                path.unlink(missing_ok=True)
                self.offsets.pop(key, None)
                removed += 1
        return removed

    def _forget_missing(self) -> bool:
        missing = [key for key in self.offsets if not (self.journal / key).exists()]
        for key in missing:
            del self.offsets[key]
        return bool(missing)

    def _rebuild_done(self) -> None:
        """Every journal line is in the database: offsets.json describes it again."""
        if self.rebuilding:
            self.marker_path.unlink(missing_ok=True)
            self.rebuilding = False
            log.info("rebuild of %s from the journals finished", db_path(self.data_dir))

    def _load_offsets(self) -> dict[str, int]:
        if self.rebuilding:
            # An interrupted `db recover`: offsets.json may still describe the old file,
            # whose lines the new one lacks. Replaying everything (idempotent) loses none.
            log.warning(
                "%s exists: an earlier `cashwatch db recover` did not finish; "
                "replaying every journal from the start",
                self.marker_path,
            )
            return {}
        try:
            raw = json.loads(self.offsets_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # Replaying everything is safe (idempotent); guessing offsets is not.
            log.warning("cannot read %s (%s); replaying all journals", self.offsets_path, exc)
            return {}
        return {
            str(key): int(value)
            for key, value in raw.items()
            if isinstance(value, int) and value >= 0
        }

    def _save_offsets(self) -> None:
        # every change of the offsets ends here: backlog() sees them from now on, also
        # when the file below cannot be written (the lines are in the database)
        self._offsets_seen = dict(self.offsets)
        make_private_dir(self.journal)
        atomic_write_text(self.offsets_path, json.dumps(self.offsets, sort_keys=True, indent=0))


def start_rebuild(data_dir: Path) -> None:
    """Before the database is moved aside: mark a rebuild as under way, offsets empty.

    Both durable (fsync'd) before the file moves: if the rebuild then stops (Ctrl-C, a
    full disk, a kill), a second `db recover` runs again, and the manager replays every
    journal instead of trusting offsets that described the old file.
    """
    journal = make_private_dir(journal_dir(Path(data_dir)))
    atomic_write_text(journal / REBUILD_MARKER, f"started {time.time():.0f}\n")
    atomic_write_text(journal / OFFSETS_FILE, json.dumps({}))


def _apply_one_by_one(
    con: duckdb.DuckDBPyConnection, lines: list[_Line]
) -> tuple[int, int, list[str]]:
    """Each record in its own transaction; a record whose own values fail is skipped.

    When every record fails, and with one same error, that error is the database's (a
    column changed under us), not theirs: it is raised, and nothing is consumed.
    """
    applied = 0
    doomed: list[str] = []
    skipped: list[tuple[str, BaseException]] = []
    for line in lines:
        if line.record is None:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            files = apply_record(con, line.record)
            con.execute("COMMIT")
        except RECORD_ERRORS as exc:
            con.execute("ROLLBACK")
            skipped.append((_describe(line.record), exc))
            continue
        except duckdb.Error:
            _rollback_quietly(con)
            raise
        applied += 1
        doomed += files
    _raise_if_the_database_failed(skipped, applied)
    for what, error in skipped:
        log.warning("skipping journal record %s: %s", what, short_reason(error))
    return len(lines), applied, doomed


def _raise_if_the_database_failed(skipped: list[tuple[str, BaseException]], applied: int) -> None:
    """Raise the shared error when 2+ distinct records all failed with the same one.

    One record alone proves nothing either way and is skipped (it would otherwise block
    every later line for good); two different records refused with the very same
    message (which for a bad value names the value) point at the table instead.
    """
    if applied or len({what for what, _ in skipped}) < 2:
        return
    kinds = {(type(exc), str(exc)) for _, exc in skipped if isinstance(exc, duckdb.Error)}
    if len(kinds) == 1 and len(skipped) == sum(isinstance(e, duckdb.Error) for _, e in skipped):
        raise skipped[0][1]


def _rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error as exc:
        log.debug("rollback failed too: %s", exc)


def _describe(record: dict[str, Any]) -> str:
    key = record.get("event_id") or record.get("run_id")
    return f"{record.get('kind')!r} {key!r}"
