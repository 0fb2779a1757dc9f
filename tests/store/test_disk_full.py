"""A full disk on the worker's side: events still stored, clip failure recorded, nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cashwatch.store.ingest import Ingestor
from tests.conftest import REPO
from tests.store.builders import journal_lines, query


def test_clip_and_snapshot_failures_are_recorded_and_held_lines_written_later(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.store.disk_full_child", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    steps = [json.loads(line) for line in done.stdout.splitlines()]
    assert "cannot write snapshot" in steps[0]["snapshot_error"]
    assert steps[1] == {"pending_while_full": 2}
    assert steps[2] == {"flushed": True, "pending": 0}

    lines = journal_lines(tmp_path, "cam1")
    assert all(json.loads(line) for line in lines), "a partial line was left in the journal"
    assert [json.loads(line)["event_id"] for line in lines] == ["e1", "e1", "e2", "e3"]
    assert Ingestor(tmp_path).poll() == 4
    rows = query(
        tmp_path,
        "SELECT event_id, clip_path, clip_error, snapshot_path FROM events ORDER BY event_id",
    )
    assert [row[0] for row in rows] == ["e1", "e2", "e3"]
    _, clip_path, clip_error, snapshot_path = rows[0]
    assert clip_path is None and snapshot_path is None
    assert "File too large" in clip_error
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".mp4", ".tmp")]
