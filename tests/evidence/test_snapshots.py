"""Snapshots and the evidence paths they share with clips."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cashwatch.evidence.paths import clip_relpath, remove_evidence, resolve_evidence
from cashwatch.evidence.snapshots import EvidenceWriteError, save_snapshot

TS = time.mktime((2025, 1, 31, 12, 0, 0, 0, 0, -1))  # local noon


def test_snapshot_is_written_under_its_day_and_camera(tmp_path: Path) -> None:
    relpath = save_snapshot(tmp_path, "cam1", "e1", TS, b"\xff\xd8jpeg")
    assert relpath == "snapshots/2025-01-31/cam1/e1.jpg"
    assert (tmp_path / relpath).read_bytes() == b"\xff\xd8jpeg"
    assert [p.name for p in (tmp_path / relpath).parent.iterdir()] == ["e1.jpg"]  # no temp left
    assert clip_relpath("cam1", "e1", TS) == "clips/2025-01-31/cam1/e1.mp4"


def test_a_disk_error_is_raised_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "snapshots").write_text("a file where the folder belongs")
    with pytest.raises(EvidenceWriteError, match=r"cannot write snapshot .*e1\.jpg") as info:
        save_snapshot(tmp_path, "cam1", "e1", TS, b"jpeg")
    assert isinstance(info.value, OSError)


def test_an_empty_snapshot_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty snapshot for event e1"):
        save_snapshot(tmp_path, "cam1", "e1", TS, b"")


@pytest.mark.parametrize(
    "relpath",
    ["../cashwatch.toml", "clips/../../x", "/etc/passwd", "journal/cam1/x.jsonl", "clips"],
)
def test_paths_outside_the_evidence_folders_are_refused(tmp_path: Path, relpath: str) -> None:
    with pytest.raises(ValueError, match="is not under clips or snapshots"):
        resolve_evidence(tmp_path, relpath)


def test_removing_evidence_frees_bytes_and_prunes_empty_folders(tmp_path: Path) -> None:
    kept = save_snapshot(tmp_path, "cam2", "e2", TS, b"12345")
    gone = save_snapshot(tmp_path, "cam1", "e1", TS, b"123")
    (tmp_path / "cashwatch.toml").write_text("x")
    assert remove_evidence(tmp_path, [gone, None, "../cashwatch.toml", gone]) == (1, 3)
    assert not (tmp_path / "snapshots/2025-01-31/cam1").exists()
    assert (tmp_path / kept).exists() and (tmp_path / "cashwatch.toml").exists()
