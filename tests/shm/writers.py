"""Processes the status tests start: `python -m tests.shm.writers <role> <data_dir> <seconds>`.

Real separate processes, as the manager and a worker are: each writes its own record
of slot 0 as fast as it can, every field of one write from the same round `n`, and
prints how many rounds it wrote.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from cashwatch.shm.status import StatusTable, WorkerStatus


def manager_fields(n: int) -> dict[str, object]:
    """The manager's record of round `n` (long texts: a write takes a while)."""
    return {
        "name": f"n{n}",
        "node": f"node-{n}",
        "pid": n,
        "restarts": n,
        "start_ts": float(n),
        "error": f"{n}:" + "m" * 400,
    }


def worker_status(n: int) -> WorkerStatus:
    """The worker's record of round `n`."""
    return WorkerStatus(
        run_id="run",
        state="running",
        frames_read=n,
        frames_processed=n,
        events_detected=n,
        heartbeat_ts=float(n),
        reconnects=n,
        source_error=f"{n}:" + "w" * 400,
        journal_error=f"{n}",
    )


def write(role: str, data_dir: Path, seconds: float) -> int:
    table = StatusTable.attach(data_dir)
    rounds = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            rounds += 1
            if role == "manager":
                table.update_manager(0, **manager_fields(rounds))
            else:
                table.write_worker(0, worker_status(rounds))
    finally:
        table.close()
    return rounds


if __name__ == "__main__":
    print(write(sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])), flush=True)
