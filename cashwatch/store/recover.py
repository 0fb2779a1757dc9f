"""`cashwatch db recover`: move a damaged event database aside and rebuild it from the journals.

The journal is the record of truth: every event, clip, end, review, expiry and worker run
went through it before DuckDB, and ingest is idempotent by key. So a fresh database with
every kept journal replayed (offsets reset) holds everything those journals hold. Journal
files are kept `[retention] journal_days` (default 30) after ingest; older events are
only in the damaged file, which is kept beside the new one.

Only the manager writes the database, so this refuses while a manager runs for the data
folder, unless that manager is the caller (it passes the lock it holds).

    cashwatch db recover --config /etc/cashwatch/cashwatch.toml
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cashwatch.cli_args import add_config_argument
from cashwatch.i18n import _
from cashwatch.store.db import DatabaseBusyError, db_path, open_writable
from cashwatch.store.errors import short_reason
from cashwatch.store.ingest import REBUILD_MARKER, Ingestor, start_rebuild
from cashwatch.store.journal import journal_dir
from cashwatch.util.manager_lock import AlreadyRunning, ManagerLock

DAMAGED_SUFFIX = ".damaged-"


class RecoveryRefused(RuntimeError):
    """Recovery would be unsafe now (a manager runs) or unneeded (the file is fine)."""


@dataclass(frozen=True)
class Recovery:
    """What `recover_database` did."""

    moved_to: Path | None  # where the old file went; None when there was none
    records: int  # journal records applied
    events: int  # events in the rebuilt database
    journal_files: int
    resumed: bool = False  # an interrupted rebuild's file was filled up in place

    def describe(self) -> str:
        """What was done, for a person, in the language in use."""
        counts = {"events": self.events, "files": self.journal_files, "records": self.records}
        if self.moved_to:
            return _(
                "moved the old database to {path}; rebuilt {events} event(s) from {files} "
                "journal file(s) ({records} record(s) replayed)"
            ).format(path=self.moved_to, **counts)
        if self.resumed:
            return _(
                "finished the interrupted rebuild of the database; rebuilt {events} event(s) "
                "from {files} journal file(s) ({records} record(s) replayed)"
            ).format(**counts)
        return _(
            "there was no database file; rebuilt {events} event(s) from {files} journal "
            "file(s) ({records} record(s) replayed)"
        ).format(**counts)


def database_problem(data_dir: Path) -> str:
    """Why the database cannot be used ("" when it opens and every row reads back).

    Reads every row of every table: DuckDB checks a block's checksum only when it reads
    the block, so opening alone does not find damage in the middle of the file.
    """
    if not db_path(data_dir).exists():
        return ""
    try:
        con = open_writable(data_dir)
    except DatabaseBusyError:
        raise
    except (duckdb.Error, OSError) as exc:
        return short_reason(exc)
    try:
        for table in ("events", "worker_runs", "schema_version"):
            # hashing each whole row reads every column of every row, materialising none
            con.execute(f"SELECT max(hash(t)) FROM {table} t").fetchall()
    except duckdb.Error as exc:
        return short_reason(exc)
    finally:
        con.close()
    return ""


def move_aside(data_dir: Path, now: float | None = None) -> Path | None:
    """Rename the database (and its write-ahead log, which belongs to it) out of the way.

    Never over an earlier damaged file: the name gets `-2`, `-3` … when the second's
    name is taken (only one recover runs at a time: it holds the manager lock). The
    database goes first, then its WAL: DuckDB would replay a stale WAL into a new file,
    so a WAL left alone by a crash in between is moved on the next run (the rebuild
    marker, written before, makes that run happen).
    """
    path = db_path(data_dir)
    wal = path.with_name(path.name + ".wal")
    if not path.exists() and not wal.exists():
        return None
    target = _free_name(path, now)
    if path.exists():
        path.rename(target)
    if wal.exists():
        wal.rename(target.with_name(target.name + ".wal"))
    return target if target.exists() else target.with_name(target.name + ".wal")


def _free_name(path: Path, now: float | None) -> Path:
    """`cashwatch.duckdb.damaged-<time>[-N]`, with neither it nor its `.wal` existing."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    base = f"{path.name}{DAMAGED_SUFFIX}{stamp}"
    counter = 1
    while True:
        target = path.with_name(base if counter == 1 else f"{base}-{counter}")
        if not target.exists() and not target.with_name(target.name + ".wal").exists():
            return target
        counter += 1


def rebuild(data_dir: Path) -> tuple[int, int, int]:
    """Replay every kept journal into the (new) database; (records, events, files).

    The rebuild marker makes the Ingestor start from offset 0; `drain()` removes it
    once every line is in.
    """
    ingestor = Ingestor(data_dir, replay_all=True)
    files = len(ingestor.journal_files())
    records = ingestor.drain()
    con = open_writable(data_dir)
    try:
        rows = con.execute("SELECT count(*) FROM events").fetchall()
    finally:
        con.close()
    return records, int(rows[0][0]), files


def rebuild_unfinished(data_dir: Path) -> bool:
    """An earlier recover moved the file and stopped before every line was back in."""
    return (journal_dir(Path(data_dir)) / REBUILD_MARKER).exists()


def recover_database(
    data_dir: Path,
    *,
    force: bool = False,
    lock: ManagerLock | None = None,
    now: float | None = None,
) -> Recovery:
    """Move the database aside and rebuild it from the journals.

    `lock`: the manager lock the caller already holds (the manager itself); without it
    the lock is taken here, and RecoveryRefused says which manager holds it. A database
    that reads back whole is left alone unless `force`.
    """
    own = lock is None
    held = ManagerLock(data_dir) if lock is None else lock
    if own:
        try:
            held.acquire()
        except AlreadyRunning as exc:
            raise RecoveryRefused(
                _(
                    "{reason}: it writes the database; stop it first (e.g. "
                    "`systemctl stop cashwatch`), then run this again"
                ).format(reason=exc)
            ) from None
    try:
        unfinished = rebuild_unfinished(data_dir)
        problem = database_problem(data_dir) if db_path(data_dir).exists() else "missing"
        if not (force or unfinished or problem):
            raise RecoveryRefused(
                _(
                    "{path} reads back without error; nothing to "
                    "recover (--force rebuilds it from the journals anyway)"
                ).format(path=db_path(data_dir))
            )
        start_rebuild(data_dir)  # durable before the file moves; removed when drained
        # An unfinished rebuild's file that reads back whole is the new one, half filled:
        # it is filled up in place, not moved aside beside the damaged original.
        resumed = unfinished and not problem and not force
        moved = None if resumed else move_aside(data_dir, now)
        records, events, files = rebuild(data_dir)
        return Recovery(moved, records, events, files, resumed)
    finally:
        if own:
            held.release()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    recover = sub.add_parser(
        "recover",
        help=_(
            "move a damaged cashwatch.duckdb aside and "
            "rebuild it from the journals (stop the manager first)"
        ),
    )
    recover.add_argument(
        "--force",
        action="store_true",
        help=_("rebuild even when the database reads back without error"),
    )
    add_config_argument(recover)


def run(args: argparse.Namespace) -> int:
    """0 when rebuilt, 1 when refused or failed (the reason on stderr)."""
    from cashwatch.config.loader import ConfigError, load_config
    from cashwatch.util.files import PRIVATE_UMASK

    os.umask(PRIVATE_UMASK)  # the new database is as private as the manager's
    try:
        data_dir = load_config(args.config, create=False).data_dir
    except ConfigError as exc:
        print(f"cashwatch: {exc}", file=sys.stderr)
        return 1
    try:
        print(recover_database(data_dir, force=args.force).describe())
    except RecoveryRefused as exc:
        print(f"cashwatch: {exc}", file=sys.stderr)
        return 1
    except DatabaseBusyError as exc:
        message = _(
            "another process holds {path} ({reason}); close it (an "
            "analyst's session?) and run this again"
        ).format(path=db_path(data_dir), reason=exc)
        print(f"cashwatch: {message}", file=sys.stderr)
        return 1
    except (duckdb.Error, OSError) as exc:
        message = _(
            "rebuilding {path} failed: {reason} (the "
            "journals are untouched; fix the cause and run this again)"
        ).format(path=db_path(data_dir), reason=short_reason(exc))
        print(f"cashwatch: {message}", file=sys.stderr)
        return 1
    return 0
