"""Cameras as Ray actors on a head + two worker nodes: placement by site, status with the
node, events and clips from both nodes, and a node lost without losing an event.

One manager (`cashwatch run --ray ADDRESS`, a real subprocess) serves the whole module;
the tests run in file order, the node removal last.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import psutil
import pytest

from cashwatch.evidence.storage import local_evidence
from cashwatch.worker.memory import WORKER_MALLOC_TUNABLES
from tests.faults.helpers import journalled_event_ids
from tests.harness import ManagerProcess, cli, db_events, wait_for, write_config
from tests.ray.conftest import SITE_LABEL, RayTestCluster

pytestmark = pytest.mark.slow

CAMERAS = {"lobby1": "lobby", "lobby2": "lobby", "bar1": "bar", "bar2": "bar"}
FIRE_ONLY = {"cash": {"enabled": False}, "violence": {"enabled": False}}


def _cameras() -> list[dict[str, Any]]:
    return [
        {
            "id": camera_id,
            "source": "demo:fire",
            "site": site,
            "detection": FIRE_ONLY,
            "clip": {"pre_seconds": 2.0, "post_seconds": 1.0, "fps": 5.0, "max_seconds": 5.0},
        }
        for camera_id, site in CAMERAS.items()
    ]


@pytest.fixture(scope="module")
def evidence_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("evidence")


@pytest.fixture(scope="module")
def manager(
    ray_cluster: RayTestCluster,
    tmp_path_factory: pytest.TempPathFactory,
    evidence_dir: Path,
    openvino_model_dir: Path,
) -> Iterator[ManagerProcess]:
    data_dir = tmp_path_factory.mktemp("data")
    config = write_config(
        data_dir / "cashwatch.toml",
        _cameras(),
        model={"weights": str(openvino_model_dir), "backend": "openvino", "precision": "f32"},
        storage={"url": f"file://{evidence_dir}"},
        ray={"site_label": SITE_LABEL, "site_placement": "prefer"},
    )
    process = ManagerProcess(config, extra_args=("--ray", ray_cluster.address)).start()
    try:
        yield process
    finally:
        process.stop()


def _all_running(manager: ManagerProcess) -> dict[str, dict[str, Any]] | None:
    workers = manager.workers()
    if all(workers.get(c, {}).get("running") for c in CAMERAS):
        return workers
    return None


def _assert_playable(clip_url: str) -> None:
    clip = local_evidence(clip_url)
    assert clip is not None, f"clip {clip_url} is not a file"
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) >= 5


def test_cameras_run_on_their_sites_node_and_events_land_in_duckdb_with_clips(
    ray_cluster: RayTestCluster, manager: ManagerProcess, evidence_dir: Path
) -> None:
    workers = wait_for(lambda: _all_running(manager), 90, "four cameras running on Ray")
    for camera_id, site in CAMERAS.items():
        assert workers[camera_id]["node"] == ray_cluster.node_name(site), camera_id
        assert workers[camera_id]["pid"] > 0 and workers[camera_id]["core"] == -1
        # the actor's process started with a local worker's malloc settings (glibc cuts
        # the string at the first ':' in place while parsing it)
        tunables = psutil.Process(workers[camera_id]["pid"]).environ().get("GLIBC_TUNABLES")
        assert tunables and WORKER_MALLOC_TUNABLES.startswith(tunables), (camera_id, tunables)
    # `cashwatch status --wide` shows the node as a column, from the same shared memory
    table = cli("status", "--wide", config=manager.config).stdout
    assert table.split()[2] == "node", table
    assert ray_cluster.node_name("lobby") in table and ray_cluster.node_name("bar") in table

    def events_with_clips_from_both_sites() -> list[dict[str, Any]]:
        rows = [e for e in db_events(manager.data_dir) if e["clip_path"]]
        sites = {CAMERAS[e["camera_id"]] for e in rows}
        return rows if sites == {"lobby", "bar"} else []

    rows = wait_for(
        events_with_clips_from_both_sites, 90, "fire events with clips from cameras on both nodes"
    )
    # the actors' own log lines, relayed with the polls, name the camera and the actor's pid
    log = manager.data_dir / "logs" / "manager.log"
    wait_for(
        lambda: all(
            f"camera:{c}[{workers[c]['pid']}] cashwatch.worker INFO event " in log.read_text()
            for c in {r["camera_id"] for r in rows}
        ),
        20,
        "the event lines of the actors in the manager's log",
    )
    for row in rows:
        assert row["event_type"] == "fire"
        assert row["clip_path"].startswith(f"file://{evidence_dir}/clips/"), row["clip_path"]
        _assert_playable(row["clip_path"])
        snapshot = local_evidence(row["snapshot_path"])
        assert snapshot is not None and snapshot.read_bytes()[:2] == b"\xff\xd8"


def test_a_lost_nodes_cameras_come_back_on_the_other_node_without_losing_events(
    ray_cluster: RayTestCluster, manager: ManagerProcess
) -> None:
    wait_for(lambda: _all_running(manager), 60, "four cameras running before the removal")
    before = manager.workers()
    lobby_restarts = {c: before[c]["restarts"] for c in CAMERAS if CAMERAS[c] == "lobby"}
    ray_cluster.cluster.remove_node(ray_cluster.nodes.pop("lobby"), allow_graceful=False)
    journalled = journalled_event_ids(manager.data_dir)
    assert journalled, "the first test left no journalled events"

    bar_node = ray_cluster.node_name("bar")

    def lobby_back_on_bar() -> dict[str, dict[str, Any]] | None:
        workers = manager.workers()
        back = all(
            workers[c]["running"]
            and workers[c]["node"] == bar_node
            and workers[c]["restarts"] > lobby_restarts[c]
            for c in lobby_restarts
        )
        return workers if back else None

    workers = wait_for(lobby_back_on_bar, 30, "the lobby's cameras running on the bar's node")
    assert all(workers[c]["running"] for c in CAMERAS)

    def all_journalled_in_db() -> bool:
        return journalled <= {e["event_id"] for e in db_events(manager.data_dir)}

    wait_for(all_journalled_in_db, 30, "every event journalled before the removal in DuckDB")
