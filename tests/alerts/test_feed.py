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


def test_the_tills_journal_is_read_from_the_upgrade_on(tmp_path: Path) -> None:
    """Offsets saved before the feed read the tills' journal (no version): its lines so far
    are history; lines after the upgrade are news, only its unmatched outcomes and events."""
    import json

    from cashwatch.alerts.feed import OFFSETS_FILE
    from cashwatch.alerts.state import alerts_dir

    lobby, till = JournalWriter(tmp_path, "lobby"), JournalWriter(tmp_path, "_till")
    _event(lobby, "old")
    till.append("till_match", {"event_id": "old", "till_match": "unmatched"})
    JournalFeed(tmp_path).commit()  # writes the offsets
    path = alerts_dir(tmp_path) / OFFSETS_FILE
    saved = json.loads(path.read_text())
    old = {k: v for k, v in saved.items() if not k.startswith("_till") and k != "version"}
    path.write_text(json.dumps(old))  # as the feed before this one saved them

    feed = JournalFeed(tmp_path)
    assert feed.read() == []
    for outcome, event_id in (("pending", "a"), ("unmatched", "b"), ("matched", "c")):
        till.append("till_match", {"event_id": event_id, "till_match": outcome})
    till.append("transaction", {"till_id": "t", "reference": "r"})
    till.append("event", {"event_id": "x", "camera_id": "lobby", "event_type": "till_exception"})
    assert [(r.source, r.record["event_id"]) for r in feed.read()] == [
        ("_till", "b"),
        ("_till", "x"),
    ]
    assert json.loads(path.read_text())["version"] == 2
