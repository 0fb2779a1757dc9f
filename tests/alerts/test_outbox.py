"""The durable outbox: what was queued and not taken survives a restart, in order."""

from __future__ import annotations

from pathlib import Path

from cashwatch.alerts import outbox as outbox_module
from cashwatch.alerts.message import Alert
from cashwatch.alerts.outbox import Outbox


def _alert(n: int, phase: str = "start") -> Alert:
    return Alert(
        alert_id=f"e{n}:{phase}",
        phase=phase,  # type: ignore[arg-type]
        event_id=f"e{n}",
        camera_id="till",
        camera_name="Till",
        site="lobby",
        event_type="fire",
        started_at=1_800_000_000.0 + n,
        confidence=0.9,
        details={"n": n},
        snapshot_path=f"snapshots/e{n}.jpg",
        created_at=1_800_000_100.0 + n,
    )


def test_pending_alerts_come_back_in_order_after_a_restart(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    for n in range(4):
        assert box.add("hook", _alert(n))
    box.add("mail", _alert(0))
    box.done("hook", "e0:start", "sent")
    box.close()

    again = Outbox(tmp_path)
    assert again.pending_counts() == {"hook": 3, "mail": 1}
    assert again.head("hook") == _alert(1)  # every field, the times exact
    again.done("hook", "e1:start", "sent")
    assert again.head("hook") == _alert(2)
    assert again.head("mail") == _alert(0)


def test_an_alert_queued_before_is_not_queued_twice(tmp_path: Path) -> None:
    """The feed reads lines again after a crash between queueing and saving its
    offsets: those alerts must not go out a second time, nor once more after a restart."""
    box = Outbox(tmp_path)
    assert box.add("hook", _alert(1))
    box.done("hook", "e1:start", "sent")
    assert not box.add("hook", _alert(1))
    box.close()
    again = Outbox(tmp_path)
    assert not again.add("hook", _alert(1))
    assert again.head("hook") is None
    assert again.add("hook", _alert(1, "end"))  # its end is another alert


def test_a_torn_last_line_loses_nothing_reported_queued(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    box.add("hook", _alert(1))
    box.close()
    with (tmp_path / "alerts" / "outbox.jsonl").open("ab") as handle:
        handle.write(b'{"op":"add","target":"hook","alert":{"alert_id":"e2')  # power cut
    again = Outbox(tmp_path)
    assert again.head("hook") == _alert(1)
    again.add("hook", _alert(3))  # written after the torn piece, on a line of its own
    again.close()
    assert Outbox(tmp_path).pending_counts() == {"hook": 2}


def test_compaction_keeps_pending_alerts_and_recent_keys(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(outbox_module, "COMPACT_BYTES", 2000)
    box = Outbox(tmp_path)
    for n in range(20):
        box.add("hook", _alert(n))
    for n in range(15):
        box.done("hook", f"e{n}:start", "sent")
    text = (tmp_path / "alerts" / "outbox.jsonl").read_text()
    assert text.count('"op":"add"') < 20, "rewritten: delivered alerts' bodies are gone"
    assert box.head("hook") == _alert(15)
    box.add("hook", _alert(20))
    box.close()
    again = Outbox(tmp_path)
    assert again.pending_counts() == {"hook": 6}
    assert not again.add("hook", _alert(3))  # delivered before the rewrite: still known


def test_a_closed_outbox_takes_no_more_marks(tmp_path: Path) -> None:
    """A sender thread that outlived the stop must not write into a closed descriptor:
    its alert stays pending and goes out again at the next start."""
    box = Outbox(tmp_path)
    box.add("hook", _alert(1))
    box.close()
    box.done("hook", "e1:start", "sent")
    assert Outbox(tmp_path).head("hook") == _alert(1)


def test_old_alerts_of_a_removed_target_are_dropped(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    box.add("gone", _alert(1))  # created_at 1_800_000_101
    box.add("gone", _alert(5))  # created_at 1_800_000_105
    assert box.drop_older("gone", 1_800_000_103.0) == 1
    assert box.head("gone") == _alert(5)
