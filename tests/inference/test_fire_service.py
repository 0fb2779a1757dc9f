"""A camera's fire model in the first shared service, with a real manager (issue #28):
the worker loads no runtime, the service loads the model once, and a config that names
another model has the service reload it, on purpose, without counting a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ManagerProcess, camera_entry, db_events, wait_for, write_config
from tests.inference.test_service_process import runtimes_mapped

pytestmark = pytest.mark.slow

FIRE_CLIP = "video/f3_dollhouse_fire_white_smoke__furg_house6.mp4"


def _fire_camera(clip: Path, model: str) -> dict[str, Any]:
    off = {"enabled": False}
    detection = {"cash": off, "violence": off, "tamper": off, "fire": {"model": model}}
    return camera_entry("fire", clip, detection=detection)


def test_a_fire_camera_asks_the_first_service_and_loads_no_runtime(
    tmp_path: Path, media: Any, openvino_model_dir: Path, fire_models: dict[str, Path]
) -> None:
    clip = media.get(FIRE_CLIP)
    mine = tmp_path / "mine"  # relative to the data folder, as an admin would write it
    mine.mkdir()
    for name in ("always", "never"):
        (mine / f"{name}.pt").symlink_to(fire_models[name])
    model = {
        "weights": str(openvino_model_dir),
        "backend": "openvino",
        "precision": "f32",
        # the route is tested, not its latency on a loaded 2-core CI machine
        "request_timeout_s": 15.0,
    }
    config = write_config(
        tmp_path / "cashwatch.toml", [_fire_camera(clip, "mine/always.pt")], model=model
    )
    with ManagerProcess(config) as manager:
        event = wait_for(
            lambda: [e for e in db_events(tmp_path) if e["event_type"] == "fire"],
            90,
            "a fire event",
        )[0]
        details = json.loads(event["details"])
        assert details.get("confirmer_score", 0) > 0.99, json.dumps(details)
        service = manager.status()["services"][0]  # one camera: the others never start
        assert service["running"] and service["models"].endswith("fire=always.pt")
        assert "libtorch" in runtimes_mapped(service["pid"])  # the fire model's runtime
        worker = manager.worker("fire")
        assert runtimes_mapped(worker["pid"]) == [], "the camera loaded a runtime"

        write_config(config, [_fire_camera(clip, "mine/never.pt")], model=model)
        reloaded = wait_for(
            lambda: (
                (s := manager.status()["services"][0])["running"]
                and s["models"].endswith("fire=never.pt")
                and s
            ),
            60,
            "the first service to load the model the config names now",
        )
        assert reloaded["pid"] != service["pid"] and reloaded["restarts"] == 0
