"""The journal writer: whole fsync'd lines, in order, nothing lost when the disk refuses."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from cashwatch.store.ingest import Ingestor
from cashwatch.store.journal import JournalWriter, journal_file_name, submit_review
from tests.store.builders import journal_events, journal_lines, make_record, query


def test_events_and_clips_are_journalled_as_json_lines(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_event(make_record("e1"))
    writer.emit_clip("e1", "clips/x/cam1/e1.mp4", None)
    writer.append("worker_run", {"run_id": "r1", "camera_id": "cam1", "pid": 5})
    writer.close()

    records = [json.loads(line) for line in journal_lines(tmp_path, "cam1")]
    assert [r["kind"] for r in records] == ["event", "clip", "worker_run"]
    assert records[0]["event_id"] == "e1" and records[0]["bbox"] == [1.0, 2.0, 30.0, 40.0]
    assert records[1] == {
        "kind": "clip",
        "event_id": "e1",
        "clip_path": "clips/x/cam1/e1.mp4",
        "clip_error": None,
    }
    files = list((tmp_path / "journal" / "cam1").iterdir())
    assert [f.name for f in files] == [journal_file_name(records[0]["started_at"])]


def test_numpy_values_in_details_are_journalled_as_plain_numbers(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_event(make_record("e1", details={"score": np.float32(0.5), "kp": np.zeros(2)}))
    writer.close()
    assert json.loads(journal_lines(tmp_path, "cam1")[0])["details"] == {
        "score": 0.5,
        "kp": [0.0, 0.0],
    }


def test_unknown_kind_is_refused_with_the_valid_ones(tmp_path: Path) -> None:
    valid = "event, clip, event_end, review, worker_run, expire"
    with pytest.raises(ValueError, match=rf"'evnt'.*{valid}"):
        JournalWriter(tmp_path, "cam1").append("evnt", {})


def test_records_the_disk_refuses_are_kept_and_written_in_order_later(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, "cam1")
    # A directory where the journal folder should be: every open fails with a real OSError.
    (tmp_path / "journal").write_text("not a folder")
    assert writer.append("expire", {"event_id": "a"}) is False
    writer.emit_event(make_record("b"))
    assert writer.pending_count == 2

    (tmp_path / "journal").unlink()
    assert writer.flush_pending() is True
    writer.append("expire", {"event_id": "c"})
    writer.close()
    ids = [json.loads(line)["event_id"] for line in journal_lines(tmp_path, "cam1")]
    assert ids == ["a", "b", "c"]
    assert writer.pending_count == 0


def test_concurrent_threads_never_interleave_lines(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, "cam1")

    def emit(prefix: str) -> None:
        for i in range(50):
            writer.emit_clip(f"{prefix}{i}", None, "x" * 500)

    threads = [threading.Thread(target=emit, args=(p,)) for p in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    lines = journal_lines(tmp_path, "cam1")
    assert len(lines) == 150
    assert {json.loads(line)["event_id"] for line in lines} == {
        f"{p}{i}" for p in "abc" for i in range(50)
    }


def test_submit_review_validates_the_status(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'ok'; valid: pending, confirmed, false_positive"):
        submit_review(tmp_path, "e1", "ok", "")
    submit_review(tmp_path, "e1", "false_positive", "reflection")
    (record,) = [json.loads(line) for line in journal_lines(tmp_path, "_review")]
    assert record["kind"] == "review" and record["review_status"] == "false_positive"
    assert record["notes"] == "reflection" and record["reviewed_at"] > 0
    assert record["reviewed_by"] is None  # no user: the old call still works


def test_submit_review_records_who_reviewed(tmp_path: Path) -> None:
    submit_review(tmp_path, "e1", "confirmed", reviewed_by="alice")
    (record,) = [json.loads(line) for line in journal_lines(tmp_path, "_review")]
    assert (record["reviewed_by"], record["notes"]) == ("alice", "")
    with pytest.raises(ValueError, match="reviewed_by must be a user name or None, got ' '"):
        submit_review(tmp_path, "e1", "confirmed", reviewed_by=" ")


def test_submit_review_raises_when_the_disk_refuses(tmp_path: Path) -> None:
    (tmp_path / "journal").write_text("not a folder")
    with pytest.raises(OSError):
        submit_review(tmp_path, "e1", "confirmed", "")


def test_source_must_be_a_plain_folder_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'\.\./x'"):
        JournalWriter(tmp_path, "../x")


def _cut_power_mid_line(path: Path, keep_of_last: int) -> None:
    """What a power cut leaves: the last line's first bytes reached the disk, the rest
    (and its newline) did not."""
    data = path.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    os.truncate(path, last_start + keep_of_last)


def _journal_torn_in_its_last_line(tmp_path: Path, keep_of_last: int) -> Path:
    """Camera cam1's journal: event e1, then an event whose line a power cut tore."""
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_event(make_record("e1"))
    writer.emit_event(make_record("torn"))
    writer.close()
    path = next((tmp_path / "journal" / "cam1").glob("*.jsonl"))
    _cut_power_mid_line(path, keep_of_last=keep_of_last)
    return path


def test_a_record_appended_after_a_torn_tail_is_kept(tmp_path: Path) -> None:
    path = _journal_torn_in_its_last_line(tmp_path, keep_of_last=37)

    after = JournalWriter(tmp_path, "cam1")  # the restarted worker
    assert after.append("clip", {"event_id": "e1", "clip_path": "c.mp4", "clip_error": None})
    after.emit_event(make_record("e2"))
    after.close()

    lines = path.read_bytes().split(b"\n")
    assert len(lines[1]) == 37  # the torn piece is a line of its own
    assert Ingestor(tmp_path).poll() == 3
    assert query(tmp_path, "SELECT event_id, clip_path FROM events ORDER BY 1") == [
        ("e1", "c.mp4"),
        ("e2", None),
    ]


def test_a_torn_line_in_the_middle_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _journal_torn_in_its_last_line(tmp_path, keep_of_last=60)
    ingestor = Ingestor(tmp_path)
    assert ingestor.poll() == 1  # the torn tail waits: it may be a line being written
    journal_events(tmp_path, "cam1", ["e2", "e3"])

    with caplog.at_level(logging.WARNING, logger="cashwatch.store.ingest"):
        assert ingestor.poll() == 2
    assert any("skipping unreadable line" in r.getMessage() for r in caplog.records)
    assert [r[0] for r in query(tmp_path, "SELECT event_id FROM events ORDER BY 1")] == [
        "e1",
        "e2",
        "e3",
    ]
    assert ingestor.poll() == 0  # and it blocks nothing after it


def test_journal_files_and_folders_are_owner_only(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, "cam1")
    writer.emit_event(make_record("e1"))
    writer.close()
    submit_review(tmp_path, "e1", "confirmed")
    for path in [*(tmp_path / "journal").glob("*"), *(tmp_path / "journal").glob("*/*")]:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is {oct(path.stat().st_mode)}"
