"""What running cameras as Ray actors costs against local processes, side by side.

`python -m bench.ray_overhead [--cameras 2] [--seconds 30]`: the same N paced 720p file
cameras with detection on (as in the main benchmark) run once under a manager with local
pinned workers and once under a manager with `--ray` on a one-machine Ray cluster (a
head with no CPUs and one worker node). For each it measures, over one window:

- worker CPU per camera (the worker processes, or the actor processes),
- manager CPU per camera (for Ray it includes polling the actors and decoding frames),
- Ray's own processes (GCS, raylets, …) per camera, for the Ray run,
- live frame age as the dashboard sees it (median and p95 over the window).

Writes bench/results/ray_overhead.json; `render_section(results)` turns it into the
markdown section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from bench.fleet import WindowResult, measure_window
from bench.footage import prepare_footage
from bench.product import ProductFleet

RESULTS = Path(__file__).resolve().parent / "results" / "ray_overhead.json"
OBJECT_STORE_BYTES = 80 * 2**20


@contextmanager
def one_machine_cluster(cameras: int) -> Iterator[str]:
    """A Ray head without CPUs and one worker node with a logical CPU per camera."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0,
            "include_dashboard": False,
            "object_store_memory": OBJECT_STORE_BYTES,
        },
    )
    cluster.add_node(num_cpus=cameras, object_store_memory=OBJECT_STORE_BYTES)
    try:
        yield str(cluster.address)
    finally:
        cluster.shutdown()


def _cpu_s(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def _ray_system_processes(manager_pid: int, worker_pids: list[int]) -> list[psutil.Process]:
    """This benchmark's descendants that are neither the manager's tree nor a camera."""
    try:
        manager_tree = {manager_pid} | {
            p.pid for p in psutil.Process(manager_pid).children(recursive=True)
        }
    except psutil.Error:
        manager_tree = {manager_pid}
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in manager_tree and p.pid not in worker_pids
    ]


def measure(fleet: ProductFleet, cameras: int, seconds: float) -> dict[str, Any]:
    fleet.resize(cameras)
    manager = [psutil.Process(fleet.manager_pid())]
    ray_system = _ray_system_processes(fleet.manager_pid(), fleet.pids())
    manager_start, system_start, started = _cpu_s(manager), _cpu_s(ray_system), time.monotonic()
    window: WindowResult = measure_window(fleet, seconds)
    elapsed = time.monotonic() - started
    ages = sorted(window.ages_s) or [float("nan")]
    nodes = sorted({r["node"] for r in fleet.workers().values()})
    return {
        "cameras": cameras,
        "seconds": round(elapsed, 1),
        "nodes": nodes,
        "worker_cpu_pct_per_camera": round(100 * window.cpu_s_per_camera_s, 1),
        "manager_cpu_pct_per_camera": round(
            100 * (_cpu_s(manager) - manager_start) / elapsed / cameras, 1
        ),
        "ray_system_cpu_pct_per_camera": round(
            100 * (_cpu_s(ray_system) - system_start) / elapsed / cameras, 1
        ),
        "frame_age_median_s": round(statistics.median(ages), 3),
        "frame_age_p95_s": round(ages[int(0.95 * (len(ages) - 1))], 3),
        "camera_fps_min": round(min((c.camera_fps for c in window.cameras), default=0.0), 2),
        "detections_per_s_min": round(min((c.served_fps for c in window.cameras), default=0.0), 2),
        "realtime": window.realtime,
        "failures": window.failures[:3],
    }


def run(cameras: int, seconds: float) -> dict[str, Any]:
    video = prepare_footage(("walk",))["walk"]
    results: dict[str, Any] = {
        "cameras": cameras,
        "footage": video.name,
        "cpu_count": psutil.cpu_count(),
        "measured_at": time.time(),
    }
    with tempfile.TemporaryDirectory(prefix="cw-ray-bench-") as tmp:
        work = Path(tmp)
        local = ProductFleet(video, gating=True, work_dir=work / "local")
        try:
            results["local"] = measure(local, cameras, seconds)
        finally:
            local.close()
        with one_machine_cluster(cameras) as address:
            remote = ProductFleet(
                video, gating=True, work_dir=work / "ray", manager_args=("--ray", address)
            )
            try:
                results["ray"] = measure(remote, cameras, seconds)
            finally:
                remote.close()
    return results


def _total(row: dict[str, Any]) -> float:
    return float(
        row["worker_cpu_pct_per_camera"]
        + row["manager_cpu_pct_per_camera"]
        + row["ray_system_cpu_pct_per_camera"]
    )


def render_section(results: dict[str, Any]) -> str:
    """The docs/benchmarks.md section for a `ray_overhead.json`."""
    local, ray = results["local"], results["ray"]
    rows = []
    for name, row in (("local processes", local), ("Ray actors", ray)):
        rows.append(
            f"| {name} | {row['worker_cpu_pct_per_camera']:.1f} | "
            f"{row['manager_cpu_pct_per_camera']:.1f} | "
            f"{row['ray_system_cpu_pct_per_camera']:.1f} | {_total(row):.1f} | "
            f"{row['frame_age_median_s']:.3f} / {row['frame_age_p95_s']:.3f} | "
            f"{row['camera_fps_min']:.1f} | {'yes' if row['realtime'] else 'no'} |"
        )
    overhead = _total(ray) - _total(local)
    age = ray["frame_age_median_s"] - local["frame_age_median_s"]
    return "\n".join(
        [
            "## Ray runner overhead",
            "",
            f"{results['cameras']} paced 720p/15 fps file cameras ({results['footage']}), "
            "detection on with motion gating, measured one after the other in the same run "
            f"on this {results['cpu_count']}-core machine: local pinned worker processes, then "
            "Ray actors on a one-machine cluster (`python -m bench.ray_overhead`). CPU is % "
            "of one core per camera; frame age is the dashboard's live frame, median / p95.",
            "",
            "| runner | worker CPU | manager CPU | Ray's processes | total | frame age (s) | "
            "camera fps (min) | real time |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Overhead of the Ray runner: {overhead:+.1f} % of a core per camera and "
            f"{age * 1000:+.0f} ms of median live frame age (polling every 0.2 s, JPEG q80 "
            "frames through Ray).",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=2, help="cameras in each run")
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring window")
    args = parser.parse_args()
    if args.cameras < 1:
        parser.error(f"--cameras must be at least 1, got {args.cameras}")
    results = run(args.cameras, args.seconds)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(render_section(results))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
