"""The manager's upkeep of the event store: schema upgrade, ingest, db error, retention.

Kept apart from the Manager (issue #22) so the manager's loop holds one attribute and
one call per step for the store, and this part can be tested with a real database and
a real journal without a manager.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cashwatch.util.redact import mask_credentials

if TYPE_CHECKING:
    from cashwatch.config.evidence import RetentionConfig
    from cashwatch.shm.status import StatusTable
    from cashwatch.store.ingest import Ingestor
    from cashwatch.store.journal import JournalWriter

# The manager's logger: these lines were the Manager's and read the same in its log.
log = logging.getLogger("cashwatch.manager")

RETENTION_EVERY_S = 3600.0
# A reader (the dashboard, an analyst) may hold the file when the manager starts; the
# upgrade is retried this often until it is done, as a quiet site may not ingest for hours.
SCHEMA_RETRY_S = 1.0


class StoreUpkeep:
    """Keeps the event database fed from the journals while the manager runs.

    Created once the status table and the manager's journal exist; `start()` upgrades
    the schema and replays what the journals hold, `step()` runs once per loop pass,
    `close()` ingests what is left and closes the database.

    Attributes:
        data_dir: The data folder holding the journals and the database.
        status: The status table whose header carries the database's error.
        journal: The manager's own journal, where retention records what it removed.
        ingestor: Replays the journals into DuckDB and backs off on its failures.
    """

    def __init__(
        self,
        data_dir: Path,
        status: StatusTable,
        journal: JournalWriter,
        *,
        journal_days: float,
    ) -> None:
        """Open the ingestor; nothing is read or written before `start()`.

        Args:
            data_dir: The data folder.
            status: The status table; its header's `db_error` is this class's to write.
            journal: The manager's journal, passed on to retention.
            journal_days: How long ingested journal files are kept (fixed at start).
        """
        # imported here: the manager module stays light for the CLI and the tests
        from cashwatch.store.ingest import Ingestor

        self.data_dir = data_dir
        self.status = status
        self.journal = journal
        self.ingestor: Ingestor = Ingestor(data_dir, keep_days=journal_days)
        self._db_error_since = 0.0  # wall time the current db error began; 0 when none
        self._next_retention = 0.0  # monotonic; 0: the first step runs a retention pass
        self._schema_current = False
        self._next_schema_try = 0.0  # monotonic

    def start(self) -> int:
        """Upgrade the schema, then replay the journals; returns how many records."""
        self._upgrade_database()
        return self.ingest()  # guarded: an unreadable journal must not stop the start

    def step(self, retention: RetentionConfig) -> None:
        """One loop pass: ingest, and a retention pass once every RETENTION_EVERY_S.

        `retention` is passed each time: a config reload may change it.
        """
        self.ingest()
        now = time.monotonic()
        if not self._schema_current and now >= self._next_schema_try:
            self._next_schema_try = now + SCHEMA_RETRY_S
            self._upgrade_database(quiet=True)
        if now >= self._next_retention:
            self._next_retention = now + RETENTION_EVERY_S
            self._enforce_retention(retention)

    def close(self) -> None:
        """Ingest what the stopped workers journaled last, then close the database."""
        self.ingest()
        self.ingestor.close()

    def _upgrade_database(self, *, quiet: bool = False) -> None:
        """Create or upgrade the schema now, not at the first ingest: the dashboard, the
        CLI and retention read its newest columns, and a quiet site may ingest nothing
        for hours. A damaged file must not keep the cameras from starting: its error
        goes in the log and the status header, and `step()` retries until it is done.
        `quiet`: a retry, whose failure was already logged at start."""
        import duckdb

        from cashwatch.store.db import DatabaseBusyError, open_writable

        try:
            open_writable(self.data_dir).close()
            self._schema_current = True
            if quiet:
                log.info("event database schema brought up to date")
        except DatabaseBusyError as exc:
            if quiet:
                return
            log.warning(
                "event database busy at start (%s); its schema upgrade is retried "
                "every %.0f s until the readers let go",
                exc,
                SCHEMA_RETRY_S,
            )
        except (duckdb.Error, OSError) as exc:
            # a damaged or unwritable file does not heal in a second: retried less often
            self._next_schema_try = time.monotonic() + 30 * SCHEMA_RETRY_S
            if quiet:
                return
            log.error(
                "event database unusable at start: %s; the cameras run and their events "
                "wait in the journal (`cashwatch db recover` rebuilds it)",
                exc,
            )

    def ingest(self) -> int:
        """One ingest poll; its OSError and database errors set `db_error` and back off
        inside the Ingestor. Anything else is a bug: logged, retried next loop."""
        applied = 0
        try:
            applied = self.ingestor.poll()
        except Exception:  # the journal keeps everything; the next poll retries
            log.exception("ingesting journals into DuckDB failed; will retry")
        self._publish_db_error()
        return applied

    def _publish_db_error(self) -> None:
        """The ingest's reason, masked and short, in the header while it lasts."""
        reason = self.ingestor.db_error
        if not reason:
            if self._db_error_since:
                self._db_error_since = 0.0
                self.status.set_header(db_error="")
            return
        if not self._db_error_since:
            self._db_error_since = time.time()
        since = time.strftime("%H:%M:%S", time.localtime(self._db_error_since))
        self.status.set_header(
            db_error=mask_credentials(
                f"events cannot be stored since {since}: {reason}. They wait in the journal; "
                "retried until it works, or stop the manager and run `cashwatch db recover`"
            )
        )

    def _enforce_retention(self, retention: RetentionConfig) -> None:
        try:
            from cashwatch.store.retention import enforce_retention

            enforce_retention(self.data_dir, retention, self.journal)
        except Exception:  # the evidence waits an hour more; the cameras keep running
            log.exception("retention pass failed; will retry")
