"""The SQL page's private copy of the history is owner-only, whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.dashboard import builders


def test_the_copy_and_its_folder_are_owner_only(tmp_path: Path) -> None:
    from cashwatch.dashboard import data

    builders.create_history(tmp_path)
    (tmp_path / data.COPY_FOLDER).mkdir(mode=0o755)
    os.chmod(tmp_path / data.COPY_FOLDER, 0o755)  # left by an older version
    old = os.umask(0o022)
    try:
        copy = data.database_copy(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / data.COPY_FOLDER).stat().st_mode) == 0o700
    assert stat.S_IMODE(copy.path.stat().st_mode) == 0o600


def test_a_copy_replaced_while_a_query_reads_it_stays_until_that_query_ends(tmp_path: Path) -> None:
    # the query's child process opens the copy by path: another session's refresh in
    # between must not pull it away (it read "cannot be opened")
    from cashwatch.dashboard import data
    from cashwatch.store.ingest import Ingestor
    from cashwatch.store.journal import JournalWriter
    from tests.store.builders import make_record

    builders.create_history(tmp_path)
    with data.leased_copy(tmp_path) as reading:
        writer = JournalWriter(tmp_path, "cam-a")
        writer.emit_event(make_record("later-fire", camera_id="cam-a"))
        writer.close()
        assert Ingestor(tmp_path).poll() == 1
        fresh = data.database_copy(tmp_path)  # another session, after the change
        assert fresh.path != reading.path
        assert reading.path.exists()
    assert not reading.path.exists()  # removed by its last reader
    assert fresh.path.exists()
