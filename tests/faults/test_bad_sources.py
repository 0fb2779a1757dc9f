"""Sources that never open, change size mid-stream or carry corrupt packets."""

from __future__ import annotations

import itertools
import re
import socket
import time
from pathlib import Path

import pytest

from cashwatch.worker.reader import RETRY_JITTER, RETRY_MAX_S
from tests.faults.helpers import (
    corrupt_middle,
    cpu_meter,
    frames_read,
    write_ts,
)
from tests.harness import ManagerProcess, camera_entry, wait_for, write_config

pytestmark = pytest.mark.slow

RETRY = re.compile(r"retrying in ([\d.]+) s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sources_that_never_open_back_off_idle_and_say_why(tmp_path: Path) -> None:
    not_video = tmp_path / "notes.mp4"
    not_video.write_bytes(b"\x00\x00\x00\x18ftypmp42 but then nothing useful" * 20)
    causes = {
        "unknown-host": ("rtsp://admin:pw@camera.invalid:554/stream", "unknown host"),
        "refused": (f"rtsp://127.0.0.1:{_free_port()}/x", "connection refused"),
        "missing": (str(tmp_path / "nope.mp4"), "file not found"),
        "not-video": (str(not_video), "not a readable video"),
    }
    config = write_config(
        tmp_path / "cashwatch.toml",
        [camera_entry(cid, source, open_timeout_s=2.0) for cid, (source, _) in causes.items()],
    )
    delays: dict[str, list[float]] = {cid: [] for cid in causes}

    def growing_delays() -> bool:
        for cid, record in manager.workers().items():
            found = RETRY.search(record["last_error"])
            if found and (not delays[cid] or float(found[1]) != delays[cid][-1]):
                delays[cid].append(float(found[1]))
        return all(len(d) >= 4 for d in delays.values())

    with ManagerProcess(config) as manager:
        pids = wait_for(
            lambda: (
                (w := manager.workers())
                and len(w) == 4
                and all(r["pid"] > 0 and r["state"] == "error" for r in w.values())
                and {cid: r["pid"] for cid, r in w.items()}
            ),
            40,
            "all four cameras in error",
        )
        with cpu_meter(pids) as cpu:
            wait_for(
                growing_delays, 20, "four growing retry delays on every camera", interval_s=0.05
            )
        workers = manager.workers()
    for cid, (_, cause) in causes.items():
        record = workers[cid]
        assert record["state"] == "error" and cause in record["last_error"], (cid, record)
        assert _growing_with_jitter(delays[cid]), f"{cid}: retry delays do not grow: {delays[cid]}"
        assert record["restarts"] == 0, f"{cid}: the worker crashed instead of retrying"
        assert cpu[cid] < 5.0, f"{cid} used {cpu[cid]:.1f} % CPU while retrying"
    assert "pw" not in workers["unknown-host"]["last_error"].replace("***", "")


def _growing_with_jitter(delays: list[float]) -> bool:
    """Doubling up to the cap, each delay with up to RETRY_JITTER taken off at random:
    a delay is never below the jittered floor of the one before, nor above the cap, and
    they grow overall (from wherever the first one was seen)."""
    floor = 1 - RETRY_JITTER
    steps_up = all(later >= floor * earlier for earlier, later in itertools.pairwise(delays))
    grown = max(delays) >= min(3 * delays[0], floor * RETRY_MAX_S)
    return steps_up and grown and max(delays) <= RETRY_MAX_S


def test_size_change_and_corrupt_packets_do_not_crash_the_worker(tmp_path: Path) -> None:
    resized = write_ts(tmp_path / "resized.ts", [((320, 240), 20), ((480, 270), 20)])
    corrupt = corrupt_middle(write_ts(tmp_path / "corrupt.ts", [((320, 240), 60)]))
    config = write_config(
        tmp_path / "cashwatch.toml",
        [camera_entry("resized", resized), camera_entry("corrupt", corrupt)],
    )
    with ManagerProcess(config) as manager:
        pids = {
            cid: manager.wait_state(cid, "running", 40)["pid"] for cid in ("resized", "corrupt")
        }
        started = time.monotonic()
        # three passes of each file: the worker gets past the bad part and loops
        for cid, frames in (("resized", 40), ("corrupt", 60)):
            wait_for(
                lambda c=cid, n=frames: frames_read(manager, c) >= 3 * n,
                30,
                f"three passes of {cid}",
            )
        for cid, record in manager.workers().items():
            assert record["pid"] == pids[cid] and record["restarts"] == 0, (cid, record)
            assert record["state"] == "running", (cid, record)
            assert (record["width"], record["height"]) in {(320, 240), (480, 270)}
        elapsed = time.monotonic() - started
        assert manager.worker("corrupt")["camera_fps"] > 8, "corrupt frames stall the reader"
        assert elapsed < 30
