"""The pieces of a remote camera worker that need no cluster: the latest-only state it
publishes, the actor class run in this process, actor options, and that a manager
without `--ray` never imports Ray."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cashwatch.config import CameraConfig, ModelConfig, RayConfig
from cashwatch.shm.frames import MAX_SIDE
from cashwatch.shm.status import WorkerStatus
from cashwatch.worker.actor import CameraActor
from cashwatch.worker.log_pipe import LineBuffer
from cashwatch.worker.publish import LatestState, LiveUpdate, decode_live_frame
from cashwatch.worker.spec import WorkerSpec
from tests.harness import NO_DETECTION, camera_entry, cli, wait_for, write_config
from tests.ray.conftest import require_ray


def _frame(value: int, size_wh: tuple[int, int] = (1920, 1080)) -> np.ndarray:
    return np.full((size_wh[1], size_wh[0], 3), value, np.uint8)


def test_a_poll_returns_the_latest_status_and_only_a_newer_frame() -> None:
    state = LatestState(node="n1", pid=1234)
    state.status.write_worker(0, WorkerStatus(state="starting", heartbeat_ts=time.time()))
    state.status.write_worker(
        0, WorkerStatus(state="running", heartbeat_ts=time.time() - 2.0, frames_read=7)
    )  # the latest record, whole
    for frame_no in (4, 8):  # a slow reader never sees frame 4: latest only
        state.frames.write(_frame(frame_no * 10), frame_no, 1000.0 + frame_no)
    state.frames.write_boxes(np.array([[0.1, 0.2, 0.3, 0.4, 0.9, 3]], np.float32), 1008.0)
    update = state.poll(since_frame_no=0)
    assert update.status.state == "running" and update.status.frames_read == 7
    assert 1.5 < update.heartbeat_age_s < 5.0
    assert (update.node, update.pid) == ("n1", 1234)
    assert update.rss_mib > 10  # measured in the worker's own process
    assert (update.frame_no, update.frame_ts) == (8, 1008.0)
    assert update.frame_jpeg is not None
    image = decode_live_frame(update.frame_jpeg)
    assert max(image.shape[:2]) == MAX_SIDE and abs(int(image.mean()) - 80) <= 2
    assert update.boxes is not None and update.boxes[0, 5] == 3
    again = state.poll(since_frame_no=8)
    assert again.frame_jpeg is None and again.frame_no == 8


def test_a_poll_before_any_heartbeat_reports_an_infinite_age() -> None:
    assert LatestState().poll(0).heartbeat_age_s == float("inf")


def test_undecodable_live_frame_bytes_are_named() -> None:
    with pytest.raises(ValueError, match="12 bytes is not a decodable JPEG"):
        decode_live_frame(b"not a jpeg!!")


def test_the_camera_actor_runs_a_real_worker_on_a_thread_and_stops_cleanly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    camera = CameraConfig.model_validate(
        {"id": "walk", "source": "demo:walk", "detection": NO_DETECTION}
    )
    spec = WorkerSpec(
        camera=camera.model_dump(mode="json"),
        model=ModelConfig().model_dump(mode="json"),
        data_dir=str(tmp_path),
        slot=0,
        manager_pid=0,
        live_every_n=2,
        run_id="r1",
    )
    caplog.set_level(logging.INFO)  # the worker's info lines reach the handlers
    lines = LineBuffer()
    logging.getLogger().addHandler(lines)
    actor = CameraActor(spec, node="test-node", log_lines=lines)

    def running_with_a_frame() -> LiveUpdate | None:
        update, exit_code, _lines = actor.poll(0)
        assert exit_code is None
        return update if update.status.state == "running" and update.frame_jpeg else None

    update = wait_for(running_with_a_frame, 30, "the actor's camera to run and show a frame")
    assert update.node == "test-node" and update.pid > 0
    assert update.status.frames_read > 0 and update.status.run_id == "r1"
    try:
        assert actor.stop(timeout_s=10) == 0
    finally:
        logging.getLogger().removeHandler(lines)
    # what it logged while stopping waits for the manager's last call (polls have ended)
    last = b"".join(actor.take_log_lines())
    assert b"camera walk: worker stopped (exit code 0)" in last, last[-500:]
    assert actor.poll(0)[1] == 0  # the exit code tells the manager it ended
    assert not [t for t in threading.enumerate() if t.name == "camera"]


def test_actor_options_ask_for_resources_and_prefer_or_require_the_site() -> None:
    require_ray()
    from cashwatch.manager.runners.ray_runner import actor_options
    from cashwatch.worker.memory import worker_malloc_env

    camera = CameraConfig(id="c1", source="demo:fire", site="lobby")
    cpu_model, gpu_model = ModelConfig(), ModelConfig(backend="torch", device="cuda:0")
    prefer = actor_options(camera, cpu_model, RayConfig())
    assert prefer["num_cpus"] == 1.0 and prefer["max_restarts"] == 0
    assert "num_gpus" not in prefer
    assert prefer["runtime_env"] == {"env_vars": worker_malloc_env()}
    assert prefer["scheduling_strategy"].soft and not prefer["scheduling_strategy"].hard
    require = actor_options(
        camera, gpu_model, RayConfig(site_placement="require", gpus_per_camera=0.5)
    )
    assert require["num_gpus"] == 0.5 and require["scheduling_strategy"].hard
    assert "scheduling_strategy" not in actor_options(
        camera, cpu_model, RayConfig(site_placement="off")
    )


def test_a_polled_heartbeat_is_placed_on_the_managers_clock() -> None:
    require_ray()
    from cashwatch.manager.runners.ray_runner import relayed_status

    fresh = LiveUpdate(status=WorkerStatus(state="running", heartbeat_ts=1.0), heartbeat_age_s=0.5)
    assert relayed_status(fresh, now=100.0).heartbeat_ts == 99.5
    silent = LiveUpdate(status=WorkerStatus(state="starting"), heartbeat_age_s=float("inf"))
    # none: readers keep the manager's own sign of the run (its start)
    assert relayed_status(silent, now=100.0).heartbeat_ts == 0.0


def test_a_manager_without_ray_never_imports_it() -> None:
    code = (
        "import sys; from cashwatch.manager.service import Manager; "
        "from cashwatch.manager.runners import make_runner; "
        "from cashwatch.config import RayConfig; "
        "runner = make_runner(None, RayConfig()); "
        "assert runner.local_processes; assert 'ray' not in sys.modules, 'ray imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("127.0.0.1:9", "cannot reach the Ray head at 127.0.0.1:9"),
        ("headnode", "--ray 'headnode': expected 'auto' or the head's host:port"),
    ],
)
def test_a_ray_head_that_cannot_be_used_is_named_at_once(
    tmp_path: Path, address: str, message: str
) -> None:
    require_ray()
    config = write_config(tmp_path / "cashwatch.toml", [camera_entry("a", "demo:walk")])
    result = cli("run", "--ray", address, config=config, timeout_s=60)
    assert result.returncode == 1
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "logs").exists()  # it failed before taking the data folder


def test_a_cluster_without_token_authentication_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fail closed: anyone who reaches an unauthenticated head runs code on every node
    require_ray()
    monkeypatch.delenv("RAY_AUTH_MODE")
    config = write_config(tmp_path / "cashwatch.toml", [camera_entry("a", "demo:walk")])
    result = cli("run", "--ray", "127.0.0.1:9", config=config, timeout_s=60)
    assert result.returncode == 1
    assert "--ray needs Ray token authentication" in result.stdout + result.stderr
    assert not (tmp_path / "logs").exists()

    # the mode without a token to present is no authentication either
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "no-such-token"))
    result = cli("run", "--ray", "127.0.0.1:9", config=config, timeout_s=60)
    assert result.returncode == 1
    assert "no token readable" in result.stdout + result.stderr
    assert not (tmp_path / "logs").exists()
    monkeypatch.delenv("RAY_AUTH_MODE")

    with config.open("a") as file:  # an admin's deliberate choice for a closed network
        file.write("\n[ray]\nrequire_token = false\n")
    result = cli("run", "--ray", "127.0.0.1:9", config=config, timeout_s=60)
    assert "cannot reach the Ray head at 127.0.0.1:9" in result.stdout + result.stderr


def test_the_token_check_wants_the_mode_and_a_token_to_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_ray()
    from cashwatch.manager.runners import RunnerUnavailable
    from cashwatch.manager.runners.ray_runner import check_token_auth

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ray/auth_token
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    for name in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RunnerUnavailable, match="no token readable"):
        check_token_auth(RayConfig())
    token = tmp_path / ".ray" / "auth_token"
    token.parent.mkdir()
    token.write_text("")
    with pytest.raises(RunnerUnavailable, match="is empty"):
        check_token_auth(RayConfig())
    token.write_text("t0ken\n")
    check_token_auth(RayConfig())  # the default file
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "elsewhere"))
    with pytest.raises(RunnerUnavailable, match="no token readable"):
        check_token_auth(RayConfig())  # a path set wrong does not fall back
    monkeypatch.setenv("RAY_AUTH_TOKEN", "t0ken")
    check_token_auth(RayConfig())
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with pytest.raises(RunnerUnavailable, match="RAY_AUTH_MODE is not token"):
        check_token_auth(RayConfig())
    check_token_auth(RayConfig(require_token=False))
