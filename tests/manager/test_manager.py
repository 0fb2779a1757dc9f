"""The manager with real worker processes, real shared memory and real video files."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from cashwatch.store.db import (
    DatabaseBusyError,
    DatabaseMissingError,
    DatabaseOutdatedError,
    connect_readonly,
)
from cashwatch.store.schema import MIGRATIONS
from cashwatch.worker.memory import WORKER_MALLOC_TUNABLES
from tests.harness import (
    ManagerProcess,
    camera_entry,
    cli,
    shm_segments,
    status_json,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.slow


def _frames(manager: ManagerProcess, camera_id: str) -> int:
    return int(manager.worker(camera_id)["frames_read"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def two_cameras(tmp_path: Path, make_video) -> Path:
    video_a = make_video("a.avi", seconds=2)
    video_b = make_video("b.avi", seconds=2, size_wh=(480, 270))
    return write_config(
        tmp_path / "cashwatch.toml",
        [camera_entry("cam-a", video_a), camera_entry("cam-b", video_b)],
    )


def test_two_cameras_run_on_different_cores_with_frames_increasing(two_cameras: Path) -> None:
    with ManagerProcess(two_cameras) as manager:
        for camera_id in ("cam-a", "cam-b"):
            manager.wait_state(camera_id, "running")
        first = {c: _frames(manager, c) for c in ("cam-a", "cam-b")}
        wait_for(
            lambda: all(_frames(manager, c) > first[c] + 20 for c in first),
            20,
            "frames to keep increasing on both cameras",
        )
        workers = manager.workers()
        cores = {workers[c]["core"] for c in first}
        assert len(cores) == 2, f"both workers on the same core: {workers}"
        for camera_id, record in workers.items():
            process = psutil.Process(record["pid"])
            assert process.cpu_affinity() == [record["core"]], camera_id
            # malloc tuned for frame-sized arrays; PyAV not loaded before a clip is needed
            # (glibc cuts the string at the first ':' in place while parsing it)
            tunables = process.environ().get("GLIBC_TUNABLES", "")
            assert tunables and WORKER_MALLOC_TUNABLES.startswith(tunables), tunables
            assert not [m.path for m in process.memory_maps() if "/av.libs/" in m.path]
        wait_for(
            lambda: all(12 <= r["camera_fps"] <= 18 for r in manager.workers().values()),
            10,
            "camera fps near the files' 15 fps",
        )
        status = status_json(two_cameras)["workers"]
        assert status["cam-a"]["running"] is True
        assert status["cam-a"]["uptime"].count(":") == 2
        assert set(status["cam-a"]) >= {
            "camera_id",
            "status",
            "pid",
            "core",
            "frames_read",
            "frames_processed",
            "frames_skipped",
            "events_detected",
            "camera_fps",
            "process_fps",
            "detection_fps",
            "inference_ms",
            "start_ts",
            "last_frame_ts",
            "heartbeat_ts",
            "restarts",
            "reconnects",
            "last_error",
        }


def test_killed_worker_is_restarted_while_the_other_keeps_reading(two_cameras: Path) -> None:
    with ManagerProcess(two_cameras) as manager:
        manager.wait_state("cam-a", "running")
        manager.wait_state("cam-b", "running")
        victim = manager.worker("cam-a")["pid"]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        samples = []

        def back() -> bool:
            samples.append(_frames(manager, "cam-b"))
            record = manager.worker("cam-a")
            return record["running"] and record["pid"] != victim

        wait_for(back, 15, "cam-a to be running again after SIGKILL", interval_s=0.5)
        assert time.monotonic() - killed_at < 15
        record = manager.worker("cam-a")
        assert record["restarts"] == 1
        assert all(b > a for a, b in zip(samples[::4], samples[4::4], strict=False)), (
            f"cam-b stalled while cam-a restarted: {samples}"
        )


def test_bad_sources_and_bad_values_error_while_others_run(tmp_path: Path, make_video) -> None:
    good = make_video("good.avi")
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("this is not a video")
    config = write_config(
        tmp_path / "cashwatch.toml",
        [
            camera_entry("good", good),
            camera_entry("missing", tmp_path / "nope.mp4"),
            camera_entry(
                "refused", f"rtsp://user:secret@127.0.0.1:{_free_port()}/x", open_timeout_s=2.0
            ),
            camera_entry("garbage", not_video),
            camera_entry("badvalue", good, detection={"fps": -1}),
        ],
    )
    with ManagerProcess(config) as manager:
        manager.wait_state("good", "running")
        missing = manager.wait_state("missing", "error")
        assert "file not found" in missing["last_error"] and "nope.mp4" in missing["last_error"]
        refused = manager.wait_state("refused", "error")
        assert "cannot open rtsp://user:***@127.0.0.1" in refused["last_error"]
        assert "secret" not in str(manager.workers())
        garbage = manager.wait_state("garbage", "error")
        assert "not a readable video" in garbage["last_error"]
        bad = manager.wait_state("badvalue", "error")
        assert "detection.fps" in bad["last_error"] and "-1" in bad["last_error"]
        # a rejected entry is in the log too: an admin starting the manager by hand sees it
        wait_for(
            lambda: "camera 'badvalue': key 'detection.fps'" in manager.log(),
            10,
            "the rejected camera in the manager's log",
        )
        before = _frames(manager, "good")
        wait_for(lambda: _frames(manager, "good") > before + 15, 10, "the good camera to read")
        # a source that never opens is retried on a back-off, not in a busy loop
        pid = manager.worker("missing")["pid"]
        process = psutil.Process(pid)
        process.cpu_percent(None)
        wait_for(lambda: manager.worker("missing")["heartbeat_ts"] > time.time() - 1, 5, "hb")
        time.sleep(3)  # measuring CPU use needs an interval of wall time
        assert process.cpu_percent(None) < 5.0


def test_config_edits_add_remove_and_change_cameras(two_cameras: Path, make_video) -> None:
    video_c = make_video("c.avi")
    with ManagerProcess(two_cameras) as manager:
        manager.wait_state("cam-a", "running")
        b_pid = manager.wait_state("cam-b", "running")["pid"]
        a_pid = manager.worker("cam-a")["pid"]
        # change cam-a, add cam-c, keep cam-b
        write_config(
            two_cameras,
            [
                camera_entry("cam-a", video_c, site="bar"),
                camera_entry("cam-b", make_video("b.avi", seconds=2, size_wh=(480, 270))),
                camera_entry("cam-c", video_c),
            ],
        )
        wait_for(lambda: manager.workers().get("cam-c", {}).get("running"), 30, "cam-c to start")
        wait_for(
            lambda: manager.worker("cam-a")["running"] and manager.worker("cam-a")["pid"] != a_pid,
            30,
            "cam-a to restart",
        )
        assert manager.worker("cam-a")["site"] == "bar"
        assert manager.worker("cam-b")["pid"] == b_pid, "an unchanged camera is not touched"
        # remove cam-c, disable cam-b
        write_config(
            two_cameras,
            [
                camera_entry("cam-a", video_c, site="bar"),
                camera_entry(
                    "cam-b", make_video("b.avi", seconds=2, size_wh=(480, 270)), enabled=False
                ),
            ],
        )
        wait_for(lambda: "cam-c" not in manager.workers(), 20, "cam-c to be removed")
        manager.wait_state("cam-b", "stopped", 20)
        assert not psutil.pid_exists(b_pid) or psutil.Process(b_pid).status() == "zombie"
        # a broken file keeps the last good config and says why
        two_cameras.write_text("[[cameras]\nthis is not toml")
        wait_for(
            lambda: "not valid TOML" in manager.status()["manager"]["config_error"],
            15,
            "the config error in status",
        )
        assert manager.worker("cam-a")["running"]
        result = cli("status", "--json", config=two_cameras)  # still works on a broken file
        assert result.returncode == 0 and "not valid TOML" in result.stderr
        assert json.loads(result.stdout)["workers"]["cam-a"]["running"] is True


def test_cli_start_stop_restart_and_status_without_manager(two_cameras: Path) -> None:
    result = cli("status", config=two_cameras)
    assert result.returncode == 1 and "no manager is running" in result.stderr
    with ManagerProcess(two_cameras) as manager:
        manager.wait_state("cam-a", "running")
        wait_for(lambda: manager.worker("cam-a")["camera_fps"] > 0, 15, "cam-a's frame rate")
        result = cli("stop", "cam-a", config=two_cameras)
        assert result.returncode == 0, result.stderr
        stopped = manager.worker("cam-a")
        assert stopped["state"] == "stopped"
        assert stopped["camera_fps"] == stopped["detection_fps"] == stopped["cpu_percent"] == 0
        stopped_by = time.time()
        result = cli("start", "cam-a", config=two_cameras)
        assert result.returncode == 0, result.stderr
        # the stop is on record as such, at the time it happened, and not as a restart
        runs = wait_for(lambda: _stopped_runs(two_cameras.parent, "cam-a"), 15, "the run")
        assert [reason for reason, _ in runs] == ["disabled"]
        assert runs[0][1] < stopped_by, "re-enabling did not move the stop time"
        assert "camera cam-a changed" not in manager.log()
        old_pid = manager.worker("cam-a")["pid"]
        result = cli("restart", "cam-a", config=two_cameras)
        assert result.returncode == 0, result.stderr
        assert manager.worker("cam-a")["pid"] != old_pid
        result = cli("restart", "ghost", config=two_cameras)
        assert result.returncode == 2 and "cam-a, cam-b" in result.stderr


def test_sigterm_and_sigkill_leave_no_shared_memory(two_cameras: Path) -> None:
    data_dir = two_cameras.parent
    manager = ManagerProcess(two_cameras).start()
    manager.wait_state("cam-a", "running")
    assert shm_segments(data_dir), "segments exist while running"
    pids = [r["pid"] for r in manager.workers().values()]
    assert manager.stop() == 0
    assert shm_segments(data_dir) == []
    assert not any(psutil.pid_exists(p) for p in pids)

    manager = ManagerProcess(two_cameras).start()
    manager.wait_state("cam-a", "running")
    pids = [r["pid"] for r in manager.workers().values()]
    manager.signal(signal.SIGKILL)
    assert manager.proc is not None
    manager.proc.wait(10)
    wait_for(
        lambda: not any(psutil.pid_exists(p) for p in pids),
        6,
        "workers to exit after their manager was killed",
    )
    assert shm_segments(data_dir), "a killed manager cannot clean up"
    with ManagerProcess(two_cameras) as again:
        again.wait_state("cam-a", "running")
        # status, the services table, and per camera its frame slot and model input
        assert len(shm_segments(data_dir)) == 6
    assert shm_segments(data_dir) == []


def test_the_manager_upgrades_an_old_database_when_it_starts(tmp_path: Path) -> None:
    """Readers select the newest columns; a site with no events for hours must not wait
    for a first ingest to get them."""
    with duckdb.connect(str(tmp_path / "cashwatch.duckdb")) as con:
        con.execute("CREATE TABLE schema_version (version INTEGER, applied_at TIMESTAMPTZ)")
        for statement in MIGRATIONS[0][1]:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (1, now())")
        con.execute(
            "INSERT INTO events (event_id, camera_id, event_type) VALUES ('old-1', 'cam', 'fire')"
        )
    config = write_config(tmp_path / "cashwatch.toml", [])
    assert _count_events(tmp_path) is None, "readers refuse the old schema"
    with ManagerProcess(config):
        assert wait_for(lambda: _count_events(tmp_path), 20, "the upgraded database") == 1


def _count_events(data_dir: Path) -> int | None:
    try:
        with connect_readonly(data_dir) as con:
            row = con.execute("SELECT count(*) FROM events WHERE reviewed_by IS NULL").fetchall()
    except DatabaseOutdatedError:
        return None
    return int(row[0][0])


def _stopped_runs(data_dir: Path, camera_id: str) -> list[tuple[str, float]]:
    try:
        with connect_readonly(data_dir) as con:
            rows = con.execute(
                "SELECT exit_reason, epoch(stopped_at) FROM worker_runs "
                "WHERE camera_id = ? AND stopped_at IS NOT NULL",
                [camera_id],
            ).fetchall()
    except (DatabaseMissingError, DatabaseBusyError):
        return []
    return [(str(reason), float(at)) for reason, at in rows]
