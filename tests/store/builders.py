"""Small builders for store and evidence tests."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from cashwatch.core.events import EventRecord
from cashwatch.store.db import db_path


def make_record(
    event_id: str, *, camera_id: str = "cam1", started_at: float | None = None, **overrides: Any
) -> EventRecord:
    fields: dict[str, Any] = {
        "site": "lobby",
        "event_type": "fire",
        "ended_at": None,
        "confidence": 0.8,
        "bbox": [1.0, 2.0, 30.0, 40.0],
        "details": {"frames": 3},
        "model": "yolo11n-pose",
    }
    fields.update(overrides)
    return EventRecord(
        event_id=event_id,
        camera_id=camera_id,
        started_at=time.time() if started_at is None else started_at,
        **fields,
    )


def query(data_dir: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Read the database like the dashboard does (read-only, then closed)."""
    con = duckdb.connect(str(db_path(data_dir)), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def journal_lines(data_dir: Path, source: str) -> list[str]:
    folder = Path(data_dir) / "journal" / source
    return [
        line for path in sorted(folder.glob("*.jsonl")) for line in path.read_text().splitlines()
    ]


def make_old(path: Path, age_s: float) -> None:
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))


def journal_events(data_dir: Path, source: str, event_ids: list[str]) -> None:
    """Journal events as a camera worker does (real fsync'd lines)."""
    from cashwatch.store.journal import JournalWriter

    writer = JournalWriter(data_dir, source)
    for event_id in event_ids:
        writer.emit_event(make_record(event_id, camera_id=source))
    writer.close()


def damage_database(data_dir: Path) -> Path:
    """A real damaged file: a valid database with 4 KiB of its first storage block
    (past the three 4 KiB file headers; it holds the catalog) overwritten with random
    bytes, as a bad sector or a torn write would leave it. DuckDB checks that block's
    checksum when it opens the file: "Corrupt database file: computed checksum …"."""
    path = db_path(data_dir)
    assert path.stat().st_size > 3 * 4096 + 4096, "build a database before damaging it"
    with path.open("r+b") as handle:
        handle.seek(3 * 4096 + 512)
        handle.write(os.urandom(4096))
    return path


BLOCK_BYTES = 256 << 10  # DuckDB's storage block; the file starts with 3 x 4 KiB headers


def bulk_database(data_dir: Path, count: int) -> None:
    """A real database of `count` events with 500 bytes of details each, spread over
    several storage blocks; SQL inserts, because ingesting as many lines takes ~50 s."""
    from cashwatch.store.db import open_writable

    con = open_writable(data_dir)
    try:
        con.execute(
            "INSERT INTO events (event_id, camera_id, event_type, started_at, details) "
            "SELECT 'e' || i, 'cam1', 'fire', now(), json_object('pad', repeat('x', 500)) "
            "FROM range(?) r(i)",
            [count],
        )
    finally:
        con.close()


def damage_a_block_that_opening_misses(data_dir: Path, event_id: str) -> Path:
    """Damage DuckDB only finds when a write touches it, as ingest's upserts do: the file
    still opens but changing `event_id`'s row reads the damage ("Corrupt database file")."""
    return damage_a_block_until(
        data_dir, lambda path: _opens_but_update_fails(path, event_id), "only an update notices"
    )


def damage_a_block_until(data_dir: Path, noticed: Callable[[Path], bool], what: str) -> Path:
    """Overwrite 2 KiB inside one storage block after another until `noticed(path)` (the
    damage is where the caller wants it); the file is left so damaged."""
    path = db_path(data_dir)
    sound = path.read_bytes()
    for block in range(1, len(sound) // BLOCK_BYTES):
        start = 3 * 4096 + block * BLOCK_BYTES + 1000
        damaged = bytearray(sound)
        damaged[start : start + 2048] = os.urandom(2048)
        path.write_bytes(bytes(damaged))
        if noticed(path):
            return path
    path.write_bytes(sound)
    raise AssertionError(f"no block found whose damage {what}")


def _opens_but_update_fails(path: Path, event_id: str) -> bool:
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error:
        return False
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("UPDATE events SET notes = 'probe' WHERE event_id = ?", [event_id])
        con.execute("ROLLBACK")
        return False
    except duckdb.Error as exc:
        return "Corrupt" in str(exc)
    finally:
        con.close()
