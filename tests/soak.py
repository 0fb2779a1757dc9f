"""Soak run: 4 cameras (two RTSP, two files) for N minutes under injected faults.

    python -m tests.soak --minutes 30        # `make soak`
    python -m tests.soak --minutes 3         # what the test suite runs

Faults: the RTSP servers restart in turn every `--restart-every` seconds, and one file
camera's worker is SIGKILLed half-way. At the end it reports events lost (journalled
events missing from DuckDB), restarts, reconnects, RSS and open file descriptors per
process after warm-up and at the end, and /dev/shm segments left after the manager
stopped. Exits 1 when a criterion fails. Needs ../shared/media and the GStreamer RTSP
server (tests/support/rtsp.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tests.faults.helpers import FIRE_CLIP, event_rows, journalled_event_ids, write_fire_loop
from tests.harness import ManagerProcess, camera_entry, shm_segments, wait_for, write_config
from tests.support.rtsp import (
    CAPTURE_OPTIONS,
    CAPTURE_OPTIONS_ENV,
    CLIP_SOURCE,
    RtspServer,
    make_h264_clip,
    rtsp_unavailable_reason,
)

REPO = Path(__file__).resolve().parents[1]
MEDIA = Path(os.environ.get("CASHWATCH_MEDIA", REPO.parent / "shared" / "media"))
MODEL_CACHE = REPO / ".pytest_cache" / "cashwatch-models"  # shared with the test suite
WARMUP_S = 30.0
RSS_GROWTH_LIMIT = 0.10
FD_GROWTH_LIMIT = 8
CAMERAS = ("rtsp-1", "rtsp-2", "file-1", "file-2")


@dataclass
class Sample:
    rss_mib: dict[str, float] = field(default_factory=dict)
    fds: dict[str, int] = field(default_factory=dict)


def _processes(manager: ManagerProcess) -> dict[str, psutil.Process]:
    assert manager.proc is not None
    out = {"manager": psutil.Process(manager.proc.pid)}
    for camera_id, record in manager.workers().items():
        if record["pid"] > 0:
            out[camera_id] = psutil.Process(record["pid"])
    return out


def _sample(manager: ManagerProcess) -> Sample:
    sample = Sample()
    for name, process in _processes(manager).items():
        try:
            sample.rss_mib[name] = round(process.memory_info().rss / 2**20, 1)
            sample.fds[name] = process.num_fds()
        except psutil.Error:
            continue
    return sample


def _prepare(workdir: Path, minutes: float) -> tuple[Path, list[RtspServer]]:
    from cashwatch.config.detection import ModelConfig
    from cashwatch.detect.backends import prepare_model

    clip = make_h264_clip(MEDIA / CLIP_SOURCE, workdir / "clip.mp4")
    fire = write_fire_loop(MEDIA / FIRE_CLIP, workdir / "fire_loop.ts")
    model_dir = prepare_model(ModelConfig(backend="openvino"), MODEL_CACHE)
    servers = [
        RtspServer({"cam": clip.path}, log_path=workdir / f"rtsp-{i}.log").start() for i in (1, 2)
    ]
    fire_detection = {"cash": {"enabled": False}, "violence": {"enabled": False}}
    cameras = [
        camera_entry(f"rtsp-{i}", server.url("cam"), read_timeout_s=2.0, open_timeout_s=3.0)
        for i, server in enumerate(servers, 1)
    ]
    short_clips = {"pre_seconds": 1.0, "post_seconds": 1.0, "max_seconds": 4.0}
    cameras += [
        camera_entry(f"file-{i}", fire, detection=fire_detection, cooldown_s=1.0, clip=short_clips)
        for i in (1, 2)
    ]
    config = write_config(
        workdir / "cashwatch.toml",
        cameras,
        model={"weights": str(model_dir), "backend": "openvino", "precision": "f32"},
    )
    return config, servers


def _inject_faults(
    manager: ManagerProcess,
    servers: list[RtspServer],
    end: float,
    restart_every_s: float,
    log: list[str],
) -> None:
    """Server restarts in turn; one worker kill half-way. Returns at `end`."""
    start = time.monotonic()
    kill_at = start + (end - start) / 2
    next_restart, turn, killed = start + restart_every_s, 0, False
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_restart:
            server = servers[turn % len(servers)]
            server.stop()
            wait_for(
                lambda s=f"rtsp-{turn % 2 + 1}": manager.worker(s)["state"] == "reconnecting",
                10,
                "a reconnect",
            )
            server.start()
            log.append(f"{now - start:.0f}s restarted rtsp server {turn % 2 + 1}")
            next_restart, turn = now + restart_every_s, turn + 1
        if not killed and now >= kill_at:
            pid = manager.worker("file-2")["pid"]
            os.kill(pid, signal.SIGKILL)
            log.append(f"{now - start:.0f}s killed the file-2 worker (pid {pid})")
            killed = True
        manager.status()  # fails loudly if the manager died
        time.sleep(1.0)  # the fault schedule's clock, not a wait for a condition


def run_soak(minutes: float, workdir: Path, restart_every_s: float) -> dict[str, Any]:
    os.environ.setdefault(CAPTURE_OPTIONS_ENV, CAPTURE_OPTIONS)
    config, servers = _prepare(workdir, minutes)
    faults: list[str] = []
    manager = ManagerProcess(config).start()
    try:
        for camera_id in CAMERAS:
            manager.wait_state(camera_id, "running", 90)
        warm_until = time.monotonic() + WARMUP_S
        wait_for(lambda: time.monotonic() >= warm_until, WARMUP_S + 5, "warm-up", 1.0)
        first = _sample(manager)
        _inject_faults(
            manager, servers, time.monotonic() + minutes * 60 - WARMUP_S, restart_every_s, faults
        )
        for camera_id in CAMERAS:
            manager.wait_state(camera_id, "running", 30)
        last = _sample(manager)
        workers = manager.workers()
        # The cameras keep raising events: judge the ones journalled by now (read once, so
        # an event journalled after the wait is not counted as lost before it could land).
        journalled = journalled_event_ids(workdir)
        with contextlib.suppress(AssertionError):  # what is missing is reported as lost
            wait_for(
                lambda: journalled <= set(event_rows(workdir)),
                10,
                "every journalled event in DuckDB",
            )
        lost = sorted(journalled - set(event_rows(workdir)))
        segments_running = len(shm_segments(workdir))
    finally:
        manager.stop()
        for server in servers:
            server.stop()
    return _report(
        minutes,
        first,
        last,
        workers,
        journalled,
        lost,
        segments_running,
        shm_segments(workdir),
        faults,
    )


def _report(
    minutes: float,
    first: Sample,
    last: Sample,
    workers: dict[str, Any],
    journalled: set[str],
    lost: list[str],
    segments_running: int,
    segments_after: list[str],
    faults: list[str],
) -> dict[str, Any]:
    growth = {
        name: round(last.rss_mib[name] / first.rss_mib[name] - 1, 3)
        for name in first.rss_mib
        if name in last.rss_mib
    }
    fd_growth = {name: last.fds[name] - first.fds[name] for name in first.fds if name in last.fds}
    restarted = {c: int(w["restarts"]) for c, w in workers.items()}
    failures = []
    if lost:
        failures.append(f"{len(lost)} event(s) lost")
    if not journalled:
        failures.append("no events at all: the soak did not exercise the event path")
    # a killed worker is a new process: its RSS is not comparable across the kill
    failures += [
        f"{name} RSS grew {g:.0%}"
        for name, g in growth.items()
        if g > RSS_GROWTH_LIMIT and not restarted.get(name)
    ]
    failures += [
        f"{name} gained {n} file descriptors"
        for name, n in fd_growth.items()
        if n > FD_GROWTH_LIMIT and not restarted.get(name)
    ]
    if segments_after:
        failures.append(f"/dev/shm segments left: {segments_after}")
    # the status and services tables, and per camera its frame slot and model input
    expected_segments = 2 + 2 * len(CAMERAS)
    if segments_running != expected_segments:
        failures.append(f"{segments_running} segments while running, expected {expected_segments}")
    return {
        "minutes": minutes,
        "passed": not failures,
        "failures": failures,
        "events_journalled": len(journalled),
        "events_lost": len(lost),
        "restarts": restarted,
        "reconnects": {c: int(w["reconnects"]) for c, w in workers.items()},
        "rss_mib_start": first.rss_mib,
        "rss_mib_end": last.rss_mib,
        "rss_growth": growth,
        "fds_start": first.fds,
        "fds_end": last.fds,
        "shm_segments_running": segments_running,
        "shm_segments_after_stop": segments_after,
        "faults": faults,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument(
        "--restart-every",
        type=float,
        default=None,
        help="seconds between RTSP server restarts (default: minutes*60/6)",
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--report", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.minutes * 60 < WARMUP_S + 60:
        parser.error(f"--minutes must leave at least a minute after the {WARMUP_S:g} s warm-up")
    reason = rtsp_unavailable_reason()
    if reason or not (MEDIA / CLIP_SOURCE).exists():
        print(f"soak: cannot run: {reason or f'media missing under {MEDIA}'}", file=sys.stderr)
        return 2
    restart_every = args.restart_every or max(30.0, args.minutes * 60 / 6)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cashwatch-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report = run_soak(args.minutes, workdir, restart_every)
    text = json.dumps(report, indent=2)
    print(text)
    if args.report:
        args.report.write_text(text + "\n")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
