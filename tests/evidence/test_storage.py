"""Evidence in shared storage: publishing through fsspec, reading it back, deleting it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cashwatch.config import StorageConfig
from cashwatch.dashboard.data import evidence_file
from cashwatch.evidence.paths import clip_relpath, remove_evidence
from cashwatch.evidence.storage import (
    EvidenceStore,
    check_evidence_url,
    local_evidence,
    read_evidence,
)


def _finished_clip(data_dir: Path, payload: bytes = b"\x00\x00\x00\x18ftypmp42") -> str:
    relpath = clip_relpath("cam1", "e1", 1_700_000_000.0)
    path = data_dir / relpath
    path.parent.mkdir(parents=True)
    path.write_bytes(payload)
    return relpath


def test_without_a_location_evidence_stays_in_the_data_folder(tmp_path: Path) -> None:
    relpath = _finished_clip(tmp_path)
    assert EvidenceStore(tmp_path).publish(tmp_path / relpath, relpath) == relpath
    assert (tmp_path / relpath).is_file()


@pytest.mark.parametrize("as_url", [True, False], ids=["file-url", "absolute-path"])
def test_a_shared_location_gets_the_file_and_the_event_records_its_url(
    tmp_path: Path, as_url: bool
) -> None:
    data_dir, shared = tmp_path / "data", tmp_path / "shared"
    relpath = _finished_clip(data_dir, b"clip bytes")
    store = EvidenceStore(data_dir, f"file://{shared}" if as_url else str(shared))
    stored = store.publish(data_dir / relpath, relpath)
    assert stored == f"file://{shared}/{relpath}"
    assert not (data_dir / relpath).exists()  # moved, not copied
    assert local_evidence(stored) == shared / relpath
    assert read_evidence(stored) == b"clip bytes"
    assert evidence_file(data_dir, stored) == shared / relpath


def test_retention_deletes_evidence_at_a_url(tmp_path: Path) -> None:
    data_dir, shared = tmp_path / "data", tmp_path / "shared"
    relpath = _finished_clip(data_dir, b"12345")
    stored = EvidenceStore(data_dir, f"file://{shared}").publish(data_dir / relpath, relpath)
    assert remove_evidence(data_dir, [stored]) == (1, 5)
    assert not (shared / relpath).exists()
    assert remove_evidence(data_dir, [stored]) == (0, 0)  # already gone is fine
    assert evidence_file(data_dir, stored) is None


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "file:///srv/clips/../../etc/x.mp4", "file:///srv/clips/cam1/notes.txt"],
)
def test_urls_that_are_not_evidence_are_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="not a clip or snapshot"):
        check_evidence_url(url)
    assert remove_evidence(tmp_path, [url]) == (0, 0)
    assert evidence_file(tmp_path, url) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("evidence", "neither an absolute path nor a URL"),
        ("nosuch://bucket/x", "unknown protocol 'nosuch'"),
    ],
)
def test_a_bad_storage_location_is_named_in_the_error(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StorageConfig(url=url)


def test_a_storage_location_is_kept_without_its_trailing_slash() -> None:
    assert StorageConfig(url="s3://bucket/cw/").url == "s3://bucket/cw"
    assert StorageConfig(url="/mnt/evidence/").url == "/mnt/evidence"
