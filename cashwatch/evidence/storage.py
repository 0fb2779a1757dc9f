"""Where finished clips and snapshots are kept: the data folder, or a shared location.

With one machine, evidence stays under the data folder and events store a relative path
(today's behaviour). Camera workers on several machines write to a location every node
and the dashboard reach: an absolute path on a shared file system, or an fsspec URL
(`s3://bucket/prefix`). Workers encode into the data folder first and then hand the
finished file over, so a half-uploaded clip is never referenced by an event; the event
then records the full URL, which says where the clip is without any other setting.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

EVIDENCE_SUFFIXES = (".mp4", ".jpg")
# The folders evidence lives in, locally under the data folder and under a storage URL.
CLIPS_DIR = "clips"
SNAPSHOTS_DIR = "snapshots"
EVIDENCE_DIRS = (CLIPS_DIR, SNAPSHOTS_DIR)


def is_url(stored: str) -> bool:
    return "://" in stored


def location_url(location: str) -> str:
    """The configured location as a URL: an absolute path becomes `file://<path>`."""
    return f"file://{location}" if location.startswith("/") else location


class EvidenceStore:
    """Hands finished evidence files to their final location.

    >>> store = EvidenceStore(data_dir, "s3://bucket/cashwatch")       # doctest: +SKIP
    >>> store.publish(data_dir / "clips/2025-01-31/cam1/e1.mp4",  # doctest: +SKIP
    ...               "clips/2025-01-31/cam1/e1.mp4")
    's3://bucket/cashwatch/clips/2025-01-31/cam1/e1.mp4'
    """

    def __init__(self, data_dir: Path, location: str = "") -> None:
        self.data_dir = Path(data_dir)
        self.url = location_url(location.rstrip("/")) if location else ""

    @property
    def shared(self) -> bool:
        return bool(self.url)

    def publish(self, local: Path, relpath: str) -> str:
        """Move a finished file to the store; returns what the event records.

        Raises OSError when the store refuses it; the local file is then kept, so
        retention's sweep of unreferenced files removes it later.
        """
        if not self.shared:
            return relpath
        import fsspec

        target = f"{self.url}/{relpath}"
        fs, path = fsspec.core.url_to_fs(target)
        fs.makedirs(str(PurePosixPath(path).parent), exist_ok=True)
        fs.put_file(str(local), path)
        local.unlink(missing_ok=True)
        return target


def check_evidence_url(stored: str) -> str:
    """`stored` if it names a clip or snapshot file under a `clips/` or `snapshots/` folder.

    URLs come from journal lines, files on disk: a damaged or hostile one must not make
    retention delete, or the dashboard serve, anything else.
    """
    parts = PurePosixPath(stored.partition("://")[2]).parts
    if (
        not set(parts) & set(EVIDENCE_DIRS)
        or ".." in parts
        or not stored.endswith(EVIDENCE_SUFFIXES)
    ):
        raise ValueError(
            f"evidence URL {stored!r} is not a clip or snapshot file "
            f"(*{' or *'.join(EVIDENCE_SUFFIXES)} under "
            f"{'/ or '.join(EVIDENCE_DIRS)}/)"
        )
    return stored


def read_evidence(stored: str) -> bytes:
    """The bytes of evidence stored at a URL (the dashboard plays it from these)."""
    import fsspec

    check_evidence_url(stored)

    with fsspec.open(stored, "rb") as handle:
        return bytes(handle.read())


def local_evidence(stored: str) -> Path | None:
    """The local file behind a `file://` URL, when it exists (no copy needed)."""
    if not stored.startswith("file://"):
        return None
    check_evidence_url(stored)
    path = Path(stored.removeprefix("file://"))
    return path if path.is_file() else None


def delete_evidence_url(stored: str) -> int:
    """Delete evidence at a URL; returns the bytes freed (0 when already gone).

    Raises ValueError for anything but a clip or snapshot (`check_evidence_url`).
    """
    check_evidence_url(stored)
    import fsspec

    fs, path = fsspec.core.url_to_fs(stored)
    try:
        size = int(fs.size(path))
        fs.rm_file(path)
    except FileNotFoundError:
        return 0
    return size
