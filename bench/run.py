"""`python -m bench.run --quick|--full`: every measure of issues 8 and 28, printed as it goes.

The capacity comparison runs three times, interleaved, each search to its edge (#28);
the machine's load is recorded around every window. Writes bench/results/<date>-<mode>.json,
bench/results/latest.json, docs/benchmarks.md and docs/benchmarks_capacity.png.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench import report
from bench.baseline import BUFFER_EVERY, BUFFER_FRAMES, BaselineFleet
from bench.capacity import SETTLE_S, CapacityResult, find_capacity, measure_undisturbed
from bench.fleet import SOURCE_FPS, WindowResult, measure_window
from bench.footage import prepare_footage
from bench.inference import run_matrix
from bench.latency import measure_event_latency
from bench.memory import (
    MIB,
    buffer_bytes_30s,
    dashboard_rss_mib,
    dashboard_session_rss_mib,
    measure_camera_memory,
    pss_mib,
    rss_mib,
    seed_cameras_that_fit,
)
from bench.plot import draw_capacity_plot
from bench.product import MODEL, POSE_METHOD, ProductFleet, share_model_cache
from bench.repeats import (
    DESIGNS,
    PER_CAMERA,
    SHARED_POSE,
    YARDSTICKS,
    median_index,
    repetition_dict,
    summarize_repeats,
)
from bench.stages import gated_inference, stage_costs
from cashwatch.config import ClipConfig
from cashwatch.detect.backends.choice import resolve_backend

STARTED = time.monotonic()


@dataclass(frozen=True)
class Plan:
    mode: str
    probe_s: float
    confirm_s: float  # the full window: an edge is N held and N + 1 failed over it
    guesses: dict[str, int]
    max_windows: int | None  # per search; None: no budget, every search ends at the edge
    max_remeasure: int  # times a window disturbed from outside is measured again
    repeats: int  # of the whole comparison, interleaved
    fill_buffers: bool  # memory per camera with the pre-event buffers full
    sizes: tuple[int, ...]
    threads: tuple[int, ...]
    iterations: int
    stage_frames: int


# A smoke check: one repetition, two 6-s windows per design; capacities are lower bounds.
QUICK = Plan(
    "quick",
    probe_s=6,
    confirm_s=6,
    guesses={"baseline": 1, "gating_off": 2, "gating_on": 2, PER_CAMERA: 2, SHARED_POSE: 2},
    max_windows=2,
    max_remeasure=1,
    repeats=1,
    fill_buffers=False,
    sizes=(640,),
    threads=(1,),
    iterations=5,
    stage_frames=30,
)
# Guesses from the first full runs on this 2-core EPYC (no bf16, so the prototype's
# FACTS.md figures of 6/10/14 do not carry over); the first repetition's search steps up
# or down from them (CashWatch's from its target multiple of the seed's capacity), the
# later ones start at the previous repetition's edge, in full windows. Time: each
# search needs at least the two full windows at the edge (2 x 48 s with the settling),
# the first repetition's probes a minute more; 11 searches (3 x 3, and the per-camera
# design and the shared one on its rules once; that last from the per-camera edge, in
# full windows), with worker starts, ~31 min; the rest of the benchmark ~10 min.
FULL = Plan(
    "full",
    probe_s=15,
    confirm_s=45,
    guesses={"baseline": 3, "gating_off": 3, "gating_on": 7, PER_CAMERA: 7, SHARED_POSE: 7},
    max_windows=None,
    max_remeasure=2,
    repeats=3,
    fill_buffers=True,
    sizes=(320, 480, 640),
    threads=(1, 2),
    iterations=20,
    stage_frames=150,
)


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.0f} s] {message}", flush=True)


def make_fleet(kind: str, video: Path, work_dir: Path) -> Any:
    """The fleet a design runs as: the seed's workers or CashWatch (shared service unless
    the per-camera design is asked for; violence by the `pose` method for the shared
    design's like-for-like run against it)."""
    if kind == "baseline":
        return BaselineFleet(video)
    service = "per-camera" if kind == PER_CAMERA else str(MODEL["service"])
    return ProductFleet(
        video,
        gating=kind != "gating_off",
        work_dir=work_dir,
        service=service,
        rules=POSE_METHOD if kind == SHARED_POSE else None,
        kind=kind,
    )


def run_capacity(plan: Plan, video: Path, work: Path, results: dict[str, Any]) -> dict[str, Any]:
    """`plan.repeats` repetitions of (a), (b), (c), interleaved; in the first, the
    per-camera design's gated capacity and the shared design's on the same rules.
    Returns, per design, the side measurements (memory, frame ages, CPU) of the
    repetition that gave its median capacity."""
    found: list[dict[str, CapacityResult]] = []
    sides: list[dict[str, dict[str, Any]]] = []
    repeats = []
    for index in range(plan.repeats):
        kinds = (*DESIGNS, *YARDSTICKS) if index == 0 else DESIGNS
        log(f"capacity: repetition {index + 1} of {plan.repeats} ({', '.join(kinds)})")
        this, side = run_repetition(plan, index, kinds, video, work, found[-1] if found else {})
        found.append(this)
        sides.append(side)
        errors = {kind: s["error"] for kind, s in side.items() if "error" in s}
        repeats.append(repetition_dict(index, this, errors))
        log_repetition(repeats[-1])
    capacity = summarize_repeats(repeats)
    capacity["confirm_window_s"] = plan.confirm_s
    results["capacity"] = capacity
    results["inference_service"] = MODEL["service"] == "shared"
    chosen: dict[str, Any] = {}
    for kind in (*DESIGNS, *YARDSTICKS):
        measured = [i for i, rep in enumerate(repeats) if kind in rep]
        median = median_index([repeats[i][kind] for i in measured])
        chosen[kind] = sides[measured[0 if median is None else median]][kind]
    return chosen


def run_repetition(
    plan: Plan,
    index: int,
    kinds: tuple[str, ...],
    video: Path,
    work: Path,
    previous: dict[str, CapacityResult],
) -> tuple[dict[str, CapacityResult], dict[str, dict[str, Any]]]:
    """One search per design, one fleet at a time (each closed before the next starts)."""
    this: dict[str, CapacityResult] = {}
    side: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        fleet = make_fleet(kind, video, work / f"{kind}-{index + 1}")
        try:
            guess, probe_s = search_start(plan, kind, this, previous)
            found = find_capacity(
                fleet,
                guess,
                probe_s,
                plan.confirm_s,
                log,
                max_windows=plan.max_windows,
                max_remeasure=plan.max_remeasure,
                fallback=plan.guesses[kind],
            )
            side[kind] = _after_capacity(kind, fleet, found)
        except Exception as exc:  # one design failing must not lose the others' numbers
            log(f"[{kind}] capacity not measured: {type(exc).__name__}: {exc}")
            found = CapacityResult(kind, 0)
            side[kind] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            fleet.close()
        this[kind] = found
    return this, side


def search_start(
    plan: Plan,
    kind: str,
    this: dict[str, CapacityResult],
    previous: dict[str, CapacityResult],
) -> tuple[int, float]:
    """(guess, probe seconds) for `kind`'s search: a later repetition starts at the
    previous one's edge in full windows (no probes); the first probes from the plan's
    guess, CashWatch from its target multiple of the seed (`start_guess`), the per-camera
    design from the shared design's edge just measured, and the shared design on the
    per-camera rules from the per-camera edge, in full windows: the question there is
    whether it holds as many.

    >>> found = {"baseline": CapacityResult("baseline", 4), "gating_on": CapacityResult("on", 13)}
    >>> search_start(FULL, "gating_on", {}, found), search_start(FULL, "gating_on", found, {})
    ((13, 45), (12, 15))
    >>> search_start(FULL, PER_CAMERA, found, {})
    (13, 15)
    >>> search_start(FULL, SHARED_POSE, {**found, PER_CAMERA: CapacityResult("own", 12)}, {})
    (12, 45)
    """
    before = previous.get(kind)
    if before is not None and before.cameras > 0:
        return before.cameras, plan.confirm_s
    own = this.get(PER_CAMERA)
    if kind == SHARED_POSE and own is not None and own.cameras > 0:
        return own.cameras, plan.confirm_s
    if kind in YARDSTICKS and this.get("gating_on") and this["gating_on"].cameras > 0:
        return this["gating_on"].cameras, plan.probe_s
    seed = this.get("baseline")
    return start_guess(plan, kind, seed.cameras if seed else None), plan.probe_s


def log_repetition(rep: dict[str, Any]) -> None:
    parts = []
    for kind in rep["order"]:
        at_least = "" if rep["edge_found"].get(kind) else ">= "
        parts.append(f"{kind} {at_least}{rep.get(kind)}")
    log(
        f"repetition {rep['repetition']}: {', '.join(parts)}; ratios gate off "
        f"{rep.get('ratio_gating_off')}, gate on {rep.get('ratio_gating_on')}"
    )


def start_guess(plan: Plan, kind: str, baseline: int | None) -> int:
    """Where the first search for `kind` starts: the plan's guess, or for the full run at
    least the target multiple of the seed's measured capacity, so the probes go to the
    target first and then look for the edge above it. Where the target fails, the search
    goes on from the plan's guess (`find_capacity`'s fallback).

    >>> start_guess(FULL, "gating_on", 4), start_guess(FULL, "gating_off", None)
    (12, 3)
    """
    multiple = report.TARGETS.get(f"ratio_{kind}")
    if plan.mode != "full" or not baseline or multiple is None:
        return plan.guesses[kind]
    return max(plan.guesses[kind], int(multiple * baseline))


def _after_capacity(kind: str, fleet: Any, found: CapacityResult) -> dict[str, Any]:
    """What the fleet shows at the end of the search (memory, frame ages, CPU).

    Taken from the confirming window; when no N held real time, from the smallest N
    tried (flagged `from_confirmed: false`), so a loaded machine still yields figures.
    """
    window = found.confirmed or min(found.trail, key=lambda w: w.n, default=None)
    out: dict[str, Any] = {"from_confirmed": found.confirmed is not None}
    if window is not None:
        out["cpu_s_per_camera_s"] = window.cpu_s_per_camera_s
        ages = sorted(window.ages_s)
        if ages:
            out["age_ms_p50"] = 1000 * statistics.median(ages)
            out["age_ms_p95"] = 1000 * ages[min(len(ages) - 1, int(0.95 * len(ages)))]
    if kind == "baseline":
        out["worker_busy_mib"] = rss_mib(fleet.pids()) / max(1, fleet.size)
    else:
        workers = fleet.workers()
        out["worker_busy_mib"] = max((r["rss_mib"] for r in workers.values()), default=None)
        out["worker_busy_pss_mib"] = pss_mib(fleet.pids())
        out["worker_idle_mib"] = min(fleet.first_rss_mib.values(), default=None)
        out["manager_mib"] = rss_mib([fleet.manager_pid()])
    return out


def run_fleet_check(
    key: str,
    fleet: ProductFleet,
    n: int,
    seconds: float,
    results: dict[str, Any],
    max_remeasure: int,
) -> None:
    """One window of `n` cameras on `fleet`, recorded under `results[key]` (and closed)."""
    try:
        if n < 1:
            return
        log(f"[{key}] {n} camera(s), gate on: measuring {seconds:g} s")
        fleet.resize(n)
        aside: list[WindowResult] = []
        window = measure_undisturbed(
            lambda: measure_window(fleet, seconds, before_s=SETTLE_S), max_remeasure, aside, log
        )
        log(f"[{key}] {window.summary()}")
        results[key] = {
            "n": n,
            "realtime": window.realtime,
            "summary": window.summary(),
            "seconds": seconds,
            "disturbed": window.disturbed,
            "measured_again": len(aside),
            "load": window.load.as_dict() if window.load else None,
        }
    except Exception as exc:
        log(f"[{key}] not measured: {exc}")
    finally:
        fleet.close()


def run_side_checks(
    plan: Plan, footage: dict[str, Path], work: Path, results: dict[str, Any]
) -> None:
    """The gate-on capacity on the busy gym (one probe), and the gate-on target with every
    camera showing the same second of the walking footage, the worst case (a full window:
    people arrive every 20-30 s)."""
    capacity = results["capacity"]
    run_fleet_check(
        "capacity_gym",
        ProductFleet(footage["gym"], gating=True, work_dir=work / "gym"),
        capacity.get("gating_on") or 0,
        plan.probe_s,
        results,
        plan.max_remeasure,
    )
    target = int(report.TARGETS["ratio_gating_on"] * (capacity.get("baseline") or 0))
    run_fleet_check(
        "capacity_in_phase",
        ProductFleet(footage["walk"], gating=True, work_dir=work / "in_phase", in_phase=True),
        target,
        plan.confirm_s,
        results,
        plan.max_remeasure,
    )


def run_camera_memory(
    plan: Plan, video: Path, work: Path, results: dict[str, Any]
) -> dict[str, Any]:
    """Memory per camera as the machine sees it, at N = the gated capacity, for the seed
    design (at most as many cameras as half the free memory holds: see
    `seed_cameras_that_fit`), CashWatch with a model per camera, and with the shared
    service. Returns the measurements by design."""
    n = results["capacity"].get("gating_on") or 0
    if n < 1:
        log("[memory] no gated capacity: memory per camera not measured")
        return {}
    product_fill = int(SOURCE_FPS * (ClipConfig().pre_seconds + 2)) if plan.fill_buffers else 0
    seed_fill = BUFFER_FRAMES * BUFFER_EVERY if plan.fill_buffers else 0
    out: dict[str, Any] = {}
    for design in ("baseline", "per_camera", "shared"):
        fleet = (
            BaselineFleet(video)
            if design == "baseline"
            else ProductFleet(
                video,
                gating=True,
                work_dir=work / f"memory-{design}",
                service=design.replace("_", "-"),
            )
        )
        try:
            if design == "baseline":
                seed_n = seed_cameras_that_fit(n, psutil.virtual_memory().available / MIB)
                out[design] = measure_camera_memory(fleet, seed_n, fleet.processes, seed_fill, log)
            else:
                out[design] = measure_camera_memory(fleet, n, fleet.processes, product_fill, log)
        except Exception as exc:
            log(f"[memory] {design}: not measured: {type(exc).__name__}: {exc}")
            out[design] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            fleet.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--quick", action="store_true", help="smoke check, ~6 min")
    group.add_argument("--full", action="store_true", help="the real benchmark, ~40 min")
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="a line to print at the top of docs/benchmarks.md",
    )
    args = parser.parse_args(argv)
    plan = FULL if args.full else QUICK
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mode": plan.mode,
        "command": f"make bench{'' if args.full else '-quick'}",
        "machine": report.machine_info(),
    }
    log(
        f"bench {plan.mode} on {results['machine']['cpu']} "
        f"({results['machine']['cores']} cores, load {results['machine']['load_avg_at_start']})"
    )
    footage = prepare_footage()
    with tempfile.TemporaryDirectory(prefix="cashwatch-bench-") as tmp:
        work = Path(tmp)
        share_model_cache(work / "infer")
        results["inference"] = run_matrix(
            footage["walk"], work / "infer", plan.sizes, plan.threads, plan.iterations, log
        )
        side = run_capacity(plan, footage["walk"], work, results)
        if plan.mode == "full":
            run_side_checks(plan, footage, work, results)
        run_costs(plan, footage["walk"], results, side)
        run_memory(plan, footage["walk"], work, results, side)
        short = ClipConfig(pre_seconds=5.0, post_seconds=3.0)  # a smoke check need not wait
        results["latency"] = measure_event_latency(
            work / "latency",
            log,
            clip=None if plan.mode == "full" else short,
            timeout_s=150.0 if plan.mode == "full" else 75.0,
        )
    finish(results, side, args.note)
    return 0


def _ms_at_640(results: dict[str, Any], backend: str) -> float:
    for row in results["inference"]:
        if (
            row["backend"] == backend
            and row["imgsz"] == 640
            and row["threads"] == 1
            and "median_ms" in row
        ):
            return float(row["median_ms"])
    return 0.0


def run_costs(plan: Plan, video: Path, results: dict[str, Any], side: dict[str, Any]) -> None:
    log("[cost] timing stages on real frames")
    # The seed design runs torch; CashWatch whatever its auto backend picks on this CPU.
    product = resolve_backend("auto")
    inference_ms = {
        "torch": _ms_at_640(results, "torch"),
        "cashwatch": _ms_at_640(results, product),
    }
    results["cashwatch_backend"] = product
    log(f"[cost] CashWatch's auto backend here: {product}")
    gated = gated_inference(video, plan.stage_frames)
    log(
        f"[cost] behind the gate: the model looks at {gated['looked_fraction']:.0%} of sampled "
        f"frames, {gated['crop_fraction']:.0%} of looks on a crop"
    )
    stages = stage_costs(video, plan.stage_frames, inference_ms, gated)
    results["cost"] = {
        "stages": stages,
        "gated": gated,
        "measured_cpu_s_per_camera_s": {
            kind: side.get(kind, {}).get("cpu_s_per_camera_s") for kind in side
        },
    }
    for kind in ("baseline", "gating_off", "gating_on"):
        log(
            f"[cost] {kind}: stages {stages[kind]['total_of_stages']:.3f} CPU s per camera-s, "
            f"measured {results['cost']['measured_cpu_s_per_camera_s'].get(kind)}"
        )


def run_memory(
    plan: Plan, video: Path, work: Path, results: dict[str, Any], side: dict[str, Any]
) -> None:
    log("[memory] pre-event buffer for 30 s of 720p")
    buffer = buffer_bytes_30s(video)
    memory: dict[str, Any] = {"buffer": buffer}
    for key in ("worker_idle_mib", "worker_busy_mib", "worker_busy_pss_mib", "manager_mib"):
        values = [side.get(k, {}).get(key) for k in ("gating_off", "gating_on")]
        values = [v for v in values if v]
        memory[key] = max(values) if values else None
    memory["baseline_worker_busy_mib"] = side.get("baseline", {}).get("worker_busy_mib")
    per_camera = run_camera_memory(plan, video, work, results)
    memory["camera_memory"] = per_camera
    results["camera_memory_mib"] = {
        design: measured.get("camera_memory_mib") for design, measured in per_camera.items()
    }
    seed_start = per_camera.get("baseline", {}).get("at_start", {}).get("processes", {})
    seed_workers = seed_start.get("workers", {})
    memory["baseline_worker_idle_mib"] = (
        seed_workers["rss_mib"] / seed_workers["count"] if seed_workers.get("count") else None
    )
    services = per_camera.get("shared", {}).get("at_n", {}).get("processes", {}).get("services")
    # the shared design asked for, and how many service processes really ran with it
    results["inference_service_processes"] = int(services["count"]) if services else None
    config = next(work.glob("gating_*/cashwatch.toml"), None)
    if config is not None:
        log("[memory] starting the dashboard headless")
        try:
            memory["dashboard_server_mib"] = dashboard_rss_mib(config)["server_mib"]
            memory["dashboard_session_mib"] = dashboard_session_rss_mib(config)
        except Exception as exc:
            log(f"[memory] dashboard not measured: {exc}")
    results["memory"] = memory
    log(
        f"[memory] buffer {buffer['cashwatch_mb']:.1f} MB (seed {buffer['baseline_mb']:.0f} MB);"
        f" worker busy {memory['worker_busy_mib']} MiB"
    )


def finish(results: dict[str, Any], side: dict[str, Any], notes: list[str]) -> None:
    on = side.get("gating_on", {})
    base = side.get("baseline", {})
    latency = results["latency"]
    latency["baseline_frame_age_ms_p50"] = base.get("age_ms_p50")
    latency["baseline_frame_age_ms_p95"] = base.get("age_ms_p95")
    results["frame_age_ms_p50"] = on.get("age_ms_p50")
    results["frame_age_ms_p95"] = on.get("age_ms_p95")
    results["event_to_row_s"] = latency.get("event_to_row_s")
    results["worker_rss_mib"] = results["memory"].get("worker_busy_mib")
    results["buffer_mb_30s_720p"] = results["memory"]["buffer"]["cashwatch_mb"]
    results["elapsed_s"] = time.monotonic() - STARTED
    load_now = report.machine_info()["load_avg_at_start"]
    notes = [
        *notes,
        f"Load average at the end: {load_now}. Other work on this shared machine "
        "lowers every capacity figure; compare ratios, not absolute numbers, across runs.",
    ]
    path = report.write_json(results)
    draw_capacity_plot(
        results["capacity"], 100.0 * max(1, results["machine"]["cores"]), report.PLOT
    )
    report.write_markdown(results, notes)
    cap = results["capacity"]
    for rep in cap["repeats"]:
        log_repetition(rep)
    edges = cap["edge_found"]
    log(
        "capacity, medians: "
        + ", ".join(
            f"{kind} {'' if edges.get(kind) else '>= '}{cap.get(kind)}"
            for kind in (*DESIGNS, *YARDSTICKS)
        )
        + f"; ratios gate off {cap.get('ratio_gating_off')}, gate on {cap.get('ratio_gating_on')}"
    )
    log(f"memory per camera (MiB): {results.get('camera_memory_mib')}")
    log(f"wrote {path}, {report.DOC} and {report.PLOT}")


if __name__ == "__main__":
    sys.exit(main())
