"""Ingestor.backlog(): the journal lines that wait for the database, and for how long."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from cashwatch.store import ingest
from cashwatch.store.ingest import IngestBacklog, Ingestor
from cashwatch.store.journal import journal_file_name
from tests.store.builders import journal_events, make_record, query


def _journal(data_dir: Path, source: str) -> Path:
    folder = data_dir / "journal" / source
    return folder / journal_file_name(time.time())


def _event_line(event_id: str) -> str:
    return json.dumps({"kind": "event", **make_record(event_id).to_json_dict()}) + "\n"


def test_lines_wait_until_polled_and_then_none_do(tmp_path: Path) -> None:
    journal_events(tmp_path, "cam1", ["a1", "a2", "a3"])
    journal_events(tmp_path, "cam2", ["b1"])
    ingestor = Ingestor(tmp_path)
    time.sleep(0.05)
    waiting = ingestor.backlog()
    assert waiting.lines == 4
    assert waiting.lag_s >= 0.05  # since the ingestor was made: no poll has caught up yet
    ingestor.poll()
    assert ingestor.backlog() == IngestBacklog(0, 0.0)
    # a new ingestor starts from offsets.json: nothing waits for it either
    assert Ingestor(tmp_path).backlog() == IngestBacklog(0, 0.0)


def test_lag_counts_from_the_last_poll_that_found_nothing_new(tmp_path: Path) -> None:
    journal_events(tmp_path, "cam1", ["e1"])
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    ingestor.poll()  # caught up: the clock of the lag restarts here
    journal_events(tmp_path, "cam1", ["e2", "e3"])
    time.sleep(0.1)
    waiting = ingestor.backlog()
    assert waiting.lines == 2
    assert 0.1 <= waiting.lag_s < 5.0
    ingestor.poll()
    assert ingestor.backlog() == IngestBacklog(0, 0.0)
    assert query(tmp_path, "SELECT count(*) FROM events") == [(3,)]


def test_only_complete_lines_count_whatever_the_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "BACKLOG_CHUNK", 7)  # newlines fall on every side of a cut
    path = _journal(tmp_path, "cam1")
    path.parent.mkdir(parents=True)
    line = _event_line("e1")
    path.write_text(line + _event_line("e2") + line[:30])  # the third is still being written
    assert Ingestor(tmp_path).backlog().lines == 2


def test_a_journal_that_shrank_counts_from_its_start(tmp_path: Path) -> None:
    journal_events(tmp_path, "cam1", ["e1", "e2", "e3"])
    ingestor = Ingestor(tmp_path)
    ingestor.poll()
    path = _journal(tmp_path, "cam1")
    path.write_text(_event_line("e4"))  # replaced by a shorter file: poll replays it whole
    assert ingestor.backlog().lines == 1
    ingestor.poll()
    assert ingestor.backlog().lines == 0


def test_backlog_from_another_thread_while_polls_consume(tmp_path: Path) -> None:
    journal_events(tmp_path, "cam1", [f"e{i}" for i in range(12)])
    line_bytes = len(_journal(tmp_path, "cam1").read_bytes()) // 12
    ingestor = Ingestor(tmp_path, max_bytes_per_poll=line_bytes * 3)  # many small polls
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def scrape() -> None:
        while not done.is_set():
            try:
                seen.append(ingestor.backlog().lines)
            except BaseException as exc:  # reported by the test, not lost in the thread
                errors.append(exc)
                return

    reader = threading.Thread(target=scrape)
    reader.start()
    try:
        deadline = time.monotonic() + 20
        while ingestor.backlog().lines and time.monotonic() < deadline:
            ingestor.poll()
    finally:
        done.set()
        reader.join(5)
    assert not errors
    assert ingestor.backlog() == IngestBacklog(0, 0.0)
    assert seen and max(seen) <= 12 and seen == sorted(seen, reverse=True)
