"""The manager's shared inference services with real camera processes (issue #28).

Three file cameras with the pose model: the model lives in the services only, the
camera workers stay small, and the services come back after kill -9 while the cameras
go on reading.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.harness import ManagerProcess, camera_entry, wait_for, write_config

pytestmark = pytest.mark.slow

RUNTIMES = ("libopenvino", "onnxruntime", "libtorch", "libcuda", "libcudart")
CAMERAS = ("c0", "c1", "c2")
WORKER_RSS_BOUND_MIB = 200


def runtimes_mapped(pid: int) -> list[str]:
    """The inference runtime libraries a process has mapped (Linux)."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return [name for name in RUNTIMES if name in maps]


def _services(manager: ManagerProcess) -> list[dict[str, Any]]:
    return list(manager.status()["services"])


def _running_services(manager: ManagerProcess) -> list[dict[str, Any]]:
    services = _services(manager)
    return services if services and all(s["running"] for s in services) else []


def test_three_pose_cameras_share_the_services_and_survive_their_kill(
    tmp_path: Path, media: Any, openvino_model_dir: Path
) -> None:
    video = media.get("video/a2_counter_cashier_customer__fightsurv_nofi100.mp4")
    # the pose model's sharing: the video verifier's own connections to the first service
    # (tests/inference/test_verified_violence.py) would add to its clients
    detection = {"fps": 4.0, "violence": {"enabled": True, "method": "pose"}}
    config = write_config(
        tmp_path / "cashwatch.toml",
        [camera_entry(camera_id, video, detection=detection) for camera_id in CAMERAS],
        model={"weights": str(openvino_model_dir), "backend": "openvino", "precision": "f32"},
    )
    with ManagerProcess(config) as manager:
        wait_for(
            lambda: (
                all(
                    w["state"] == "running" and w["detection_fps"] > 0
                    for w in manager.workers().values()
                )
                and len(manager.workers()) == 3
            ),
            90,
            "every camera running with poses from the services",
        )
        # the check: after 60 s of running
        wait_for(
            lambda: all(time.time() - w["start_ts"] >= 60 for w in manager.workers().values()),
            120,
            "60 s of running",
        )
        workers = {cid: w["pid"] for cid, w in manager.workers().items()}
        for camera_id, pid in workers.items():
            assert runtimes_mapped(pid) == [], f"{camera_id} loaded a runtime"
            rss_mib = psutil.Process(pid).memory_info().rss / 2**20
            print(f"{camera_id}: worker RSS {rss_mib:.0f} MiB")
            # The 150 MiB is a memory target, checked by `make bench`; this
            # test read 105-107 MiB on one machine and 162-163 on another, whose kernel
            # maps shared libraries a large folio at a time (bench.worker_memory). Here:
            # far below a worker that carries its own model (~450 MiB).
            assert rss_mib <= WORKER_RSS_BOUND_MIB, f"{camera_id}'s worker holds {rss_mib:.0f} MiB"
        family = psutil.Process(manager.proc.pid).children(recursive=True)  # type: ignore[union-attr]
        holders = [p.pid for p in family if runtimes_mapped(p.pid)]
        services = _running_services(manager)
        assert sorted(holders) == sorted(s["pid"] for s in services)
        assert 0 < len(holders) < len(CAMERAS)
        assert all(s["clients"] == 3 and s["requests"] > 0 for s in services)

        _kill_every_service_and_see_it_back(manager, services)


def _kill_every_service_and_see_it_back(
    manager: ManagerProcess, services: list[dict[str, Any]]
) -> None:
    before = {cid: w["frames_read"] for cid, w in manager.workers().items()}
    pids = {cid: w["pid"] for cid, w in manager.workers().items()}
    killed = {s["pid"] for s in services}
    killed_at = time.monotonic()
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: any(
            "detection waiting for the inference service" in w["detection_error"]
            for w in manager.workers().values()
        ),
        20,
        "a camera to say its detection waits for the service",
    )
    back = wait_for(
        lambda: (s := _running_services(manager)) and not killed & {x["pid"] for x in s} and s,
        30,
        "every service back under a new process",
    )
    back_s = time.monotonic() - killed_at
    print(f"services back {back_s:.1f} s after kill -9")  # the target: 5 s
    assert all(s["restarts"] == 1 and "SIGKILL" in s["error"] for s in back)
    # meanwhile the cameras kept reading, and none of them was restarted
    after = manager.workers()
    assert all(after[cid]["frames_read"] > before[cid] for cid in before)
    # (not their state: a short looping file reopens now and then, "connecting" a moment)
    assert all(w["restarts"] == 0 and w["pid"] == pids[cid] for cid, w in after.items())
    wait_for(
        lambda: all(w["detection_error"] == "" for w in manager.workers().values()),
        30,
        "every camera's detection running again",
    )


def test_per_camera_models_stay_available_for_isolated_cameras(
    tmp_path: Path, media: Any, openvino_model_dir: Path
) -> None:
    """`[model] service = "per-camera"`: today's design, each worker its own model."""
    video = media.get("video/a2_counter_cashier_customer__fightsurv_nofi100.mp4")
    model = {"weights": str(openvino_model_dir), "backend": "openvino", "precision": "f32"}
    config = write_config(
        tmp_path / "cashwatch.toml",
        [camera_entry("alone", video, detection={"fps": 4.0})],
        model={**model, "service": "per-camera"},
    )
    with ManagerProcess(config) as manager:
        worker = wait_for(
            lambda: (w := manager.worker("alone"))["detection_fps"] > 0 and w,
            90,
            "the camera's own model to run",
        )
        assert runtimes_mapped(worker["pid"]), "a per-camera worker runs its own model"
        assert manager.status()["services"] == []
