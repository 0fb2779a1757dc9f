"""The example queries in docs/events.md run on a database the manager wrote."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cashwatch.store.ingest import Ingestor
from cashwatch.store.journal import JournalWriter, submit_review
from tests.store.builders import make_record, query

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
QUERIES = re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    writer = JournalWriter(folder, "desk")
    writer.emit_event(
        make_record(
            "fight",
            event_type="violence",
            started_at=1_000.0,
            details={"method": "pose", "duration_s": 0.8, "tracks": [1, 2]},
        )
    )
    writer.emit_end("fight", 1_012.5)
    writer.emit_event(
        make_record(
            "handover",
            event_type="cash",
            started_at=2_000.0,
            details={"staff_wrist": [410.0, 300.0], "frame_wh": [1280, 720], "met_at": 1_999.6},
        )
    )
    writer.emit_clip("handover", "clips/x/desk/handover.mp4", None)
    writer.emit_event(make_record("flames", started_at=3_000.0))  # still burning
    writer.close()
    submit_review(folder, "fight", "confirmed", "", reviewed_by="alice")
    Ingestor(folder).poll()
    return folder


def test_the_doc_has_its_queries() -> None:
    assert len(QUERIES) >= 5


@pytest.mark.parametrize("sql", QUERIES, ids=[q.split("\n")[0][:40] for q in QUERIES])
def test_each_example_query_runs(data_dir: Path, sql: str) -> None:
    query(data_dir, sql)


def test_durations_come_from_event_end_records(data_dir: Path) -> None:
    durations = next(q for q in QUERIES if "median_s" in q)
    assert query(data_dir, durations) == [("violence", 1, 12.5, 12.5)]
