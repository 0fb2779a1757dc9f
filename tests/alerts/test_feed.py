"""The alert feed reads the cameras' journals itself, from where it last committed."""

from __future__ import annotations

from pathlib import Path

from cashwatch.alerts.feed import JournalFeed
from cashwatch.store.journal import JournalWriter


def _event(writer: JournalWriter, event_id: str) -> None:
    writer.append("event", {"event_id": event_id, "camera_id": writer.source, "event_type": "fire"})


def test_history_is_not_news_and_new_lines_are_read_once_committed(tmp_path: Path) -> None:
    till = JournalWriter(tmp_path, "till")
    _event(till, "old")
    feed = JournalFeed(tmp_path)  # the first start: begins at the journals' ends
    assert feed.read() == []

    _event(till, "e1")
    till.append("clip", {"event_id": "e1", "clip_path": None, "clip_error": "x"})
    till.append("event_end", {"event_id": "e1", "ended_at": 5.0})
    JournalWriter(tmp_path, "_manager").append("expire", {"event_id": "old", "expired_at": 1.0})
    door = JournalWriter(tmp_path, "door")  # a camera added later: read from its start
    _event(door, "d1")

    first = feed.read()
    assert [(r.source, r.record["kind"], r.record["event_id"]) for r in first] == [
        ("door", "event", "d1"),
        ("till", "event", "e1"),
        ("till", "event_end", "e1"),
    ]
    # not committed (a crash before the outbox had them): read again, also after a restart
    assert JournalFeed(tmp_path).read() == first
    assert feed.read() == first
    feed.commit()
    assert feed.read() == []
    _event(till, "e2")
    assert [r.record["event_id"] for r in JournalFeed(tmp_path).read()] == ["e2"]


def test_a_torn_line_is_passed_over(tmp_path: Path) -> None:
    JournalWriter(tmp_path, "till")._current_fd()  # the folder and today's file
    feed = JournalFeed(tmp_path)
    path = next((tmp_path / "journal" / "till").glob("*.jsonl"))
    with path.open("ab") as handle:
        handle.write(b'{"kind":"event","event_id":"to\n')
    _event(JournalWriter(tmp_path, "till"), "e1")
    assert [r.record["event_id"] for r in feed.read()] == ["e1"]
