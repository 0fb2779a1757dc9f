"""A worker's evidence path under a file size limit: `python -m tests.store.disk_full_child DIR`.

RLIMIT_FSIZE makes every write past the limit fail (EFBIG), like a full disk, in this
process only; SIGXFSZ is ignored so the write returns an error instead of killing us.
Prints one JSON object per step for the test to check.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
from pathlib import Path

import numpy as np

from cashwatch.config import CameraConfig
from cashwatch.evidence.buffer import encode_jpeg
from cashwatch.evidence.recorder import ClipRecorder
from cashwatch.evidence.snapshots import save_snapshot
from cashwatch.store.journal import JournalWriter
from tests.store.builders import make_record

T0 = 1_700_000_000.0
LIMIT_BYTES = 16_000


def _limit(nbytes: int) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))


def _noise(index: int) -> np.ndarray:
    return np.random.default_rng(index).integers(0, 255, (240, 320, 3), dtype=np.uint8)


def main(data_dir: Path) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    camera = CameraConfig(
        id="cam1", source="demo:fire", clip={"pre_seconds": 1.0, "post_seconds": 1.0, "fps": 10.0}
    )
    journal = JournalWriter(data_dir, "cam1")
    recorder = ClipRecorder(camera, data_dir, journal)
    _limit(LIMIT_BYTES)

    frames = [_noise(i) for i in range(40)]
    for index in range(20):
        recorder.add_frame(frames[index], T0 + index / 10)
    record = make_record("e1", started_at=T0 + 1.9)
    try:
        record.snapshot_path = save_snapshot(
            data_dir, "cam1", "e1", record.started_at, encode_jpeg(frames[19], 95)
        )
    except OSError as exc:  # what the worker does: record the event without a snapshot
        print(json.dumps({"snapshot_error": str(exc)}), flush=True)
    journal.emit_event(record)
    recorder.request_clip(record)
    for index in range(20, 40):
        recorder.add_frame(frames[index], T0 + index / 10)
    recorder.close()

    journal_file = next((data_dir / "journal" / "cam1").glob("*.jsonl"))
    _limit(journal_file.stat().st_size + 10)  # room for 10 bytes: a short write
    journal.emit_event(make_record("e2", started_at=T0 + 5))
    journal.emit_event(make_record("e3", started_at=T0 + 6))
    print(json.dumps({"pending_while_full": journal.pending_count}), flush=True)

    _limit(resource.RLIM_INFINITY)
    print(
        json.dumps({"flushed": journal.flush_pending(), "pending": journal.pending_count}),
        flush=True,
    )
    journal.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
