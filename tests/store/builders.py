"""Small builders for store and evidence tests."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import duckdb

from cashwatch.events import EventRecord
from cashwatch.store.db import db_path


def make_record(event_id: str, *, camera_id: str = "cam1", started_at: float | None = None,
                **overrides: Any) -> EventRecord:
    fields: dict[str, Any] = {
        "site": "lobby", "event_type": "fire", "ended_at": None, "confidence": 0.8,
        "bbox": [1.0, 2.0, 30.0, 40.0], "details": {"frames": 3}, "model": "yolo11n-pose"}
    fields.update(overrides)
    return EventRecord(event_id=event_id, camera_id=camera_id,
                       started_at=time.time() if started_at is None else started_at, **fields)


def query(data_dir: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Read the database like the dashboard does (read-only, then closed)."""
    con = duckdb.connect(str(db_path(data_dir)), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def journal_lines(data_dir: Path, source: str) -> list[str]:
    folder = Path(data_dir) / "journal" / source
    return [line for path in sorted(folder.glob("*.jsonl"))
            for line in path.read_text().splitlines()]


def make_old(path: Path, age_s: float) -> None:
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
