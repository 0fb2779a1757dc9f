"""Processes the store tests start: `python -m tests.store.children <role> <args>`.

Real separate processes, because DuckDB's file lock and SIGKILL are per process.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb

from cashwatch.store.db import db_path
from cashwatch.store.ingest import Ingestor


def hold_reader(data_dir: Path, hold_s: float) -> None:
    """Keep a read-only connection open for `hold_s`, like a slow dashboard query."""
    con = duckdb.connect(str(db_path(data_dir)), read_only=True)
    print("ready", flush=True)
    time.sleep(hold_s)  # the scenario under test: a reader that holds the file this long
    con.close()
    print("closed", flush=True)


def ingest_forever(data_dir: Path, max_bytes_per_poll: int) -> None:
    """Poll like the manager and report the running total after every poll."""
    ingestor = Ingestor(data_dir, max_bytes_per_poll=max_bytes_per_poll)
    total = 0
    while True:
        total += ingestor.poll()
        print(total, flush=True)


if __name__ == "__main__":
    role, folder, value = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    if role == "reader":
        hold_reader(folder, value)
    elif role == "ingest":
        ingest_forever(folder, int(value))
    else:
        raise SystemExit(f"unknown role {role!r}; valid: reader, ingest")
