"""What the violence verifier costs the gated capacity (issue #26's cost target).

`python -m bench.violence_cost [--repeats 2]`: the main benchmark's gated CashWatch fleet
(walking footage at 720p/15 fps, motion gate on, the shared inference service, every rule
at its default, so violence uses the verified method and the first service hosts the
video model) against the same fleet with the violence rule's `pose` method (the trigger's
pose rule alone, no video model) and with the violence rule off. Each repetition searches
every edge (N held and N + 1 failed, each over a full 45-s window, as `make bench` does),
interleaved; the first probes from each design's guess, the later ones start at the
previous edge. It also counts the verifier's looks (the first service's `videos`).

Target: the gated capacity with the verifier at most 10 % below violence off. The
benchmark's cameras have no counter zone, so with violence off no rule reads people and
the pose model does not run at all: that ratio is the cost of the whole violence rule,
pose model included; verified against `pose` is the verifier's own.

Writes bench/results/violence_cost.json; `render_section(results)` is the section of
docs/benchmarks.md (bench/report.py). Not part of `make bench`, which must stay within
40 minutes; this takes ~40 minutes for two repetitions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.capacity import CapacityResult, find_capacity
from bench.footage import prepare_footage
from bench.product import POSE_METHOD, ProductFleet

RESULTS = Path(__file__).resolve().parent / "results" / "violence_cost.json"
DESIGNS = ("violence_on", "violence_pose", "violence_off")
RULES: dict[str, dict[str, Any]] = {
    "violence_on": {},  # the defaults: the verified method
    "violence_pose": POSE_METHOD,
    "violence_off": {"violence": {"enabled": False}},
}
# where the first repetition's searches start (this 2-core machine, 2026-12-07's first
# probes: 10 held with the verifier, 22 with violence off)
GUESSES = {"violence_on": 10, "violence_pose": 10, "violence_off": 22}
PROBE_S, CONFIRM_S = 15.0, 45.0
TARGET_DROP = 0.10
STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.0f} s] {message}", flush=True)


def make_fleet(design: str, video: Path, work_dir: Path) -> ProductFleet:
    return ProductFleet(
        video, gating=True, work_dir=work_dir, rules=RULES[design], kind=f"gating_on_{design}"
    )


def _looks(fleet: ProductFleet) -> int:
    """The verifier's looks so far in this fleet (0 when no service reports)."""
    if fleet.manager is None:
        return 0
    services = fleet.manager.status()["services"]
    return int(services[0]["videos"]) if services else 0


def search(design: str, guess: int, probe_s: float, video: Path, work: Path) -> dict[str, Any]:
    """One edge search of `design`'s fleet, and what the verifier did meanwhile."""
    fleet = make_fleet(design, video, work)
    started = time.monotonic()
    try:
        found: CapacityResult = find_capacity(
            fleet, guess, probe_s, CONFIRM_S, log, max_remeasure=2, fallback=guess
        )
        looks = _looks(fleet)
    finally:
        fleet.close()
    return {
        **found.as_dict(),
        "verifier_looks": looks,
        "search_s": round(time.monotonic() - started, 1),
    }


def run(repeats: int, work: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`repeats` more repetitions after `rows` (those of an earlier run, or none)."""
    video = prepare_footage(("walk",))["walk"]
    rows = list(rows)
    for index in range(len(rows), len(rows) + repeats):
        row: dict[str, Any] = {"repetition": index + 1}
        for design in DESIGNS:
            before = rows[-1][design] if rows else None
            if before and before["cameras"] > 0:
                start, probe_s = int(before["cameras"]), CONFIRM_S  # full windows at once
            else:
                start, probe_s = GUESSES[design], PROBE_S
            log(f"repetition {index + 1}: {design} from {start} cameras")
            row[design] = search(design, start, probe_s, video, work / f"{design}-{index + 1}")
        row["ratio"] = _ratio(row, "violence_off")
        row["ratio_pose"] = _ratio(row, "violence_pose")
        edges = ", ".join(f"{d} {row[d]['cameras']}" for d in DESIGNS)
        log(f"repetition {index + 1}: {edges}; on/off {row['ratio']}, on/pose {row['ratio_pose']}")
        rows.append(row)
    return summarize(rows)


def _ratio(row: dict[str, Any], against: str) -> float | None:
    """The verified fleet's edge over `against`'s, when both edges were found."""
    on, other = row["violence_on"], row[against]
    if not (on["edge_found"] and other["edge_found"] and other["cameras"]):
        return None
    return round(float(on["cameras"]) / float(other["cameras"]), 3)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the repetitions; a drop is computed only where every edge was found.

    >>> def edge(n): return {"cameras": n, "edge_found": True}
    >>> rows = [{"violence_on": edge(10), "violence_pose": edge(10), "violence_off": edge(11),
    ...          "ratio": 0.909, "ratio_pose": 1.0},
    ...         {"violence_on": edge(11), "violence_pose": edge(12), "violence_off": edge(11),
    ...          "ratio": 1.0, "ratio_pose": 0.917}]
    >>> s = summarize(rows)
    >>> s["median"]["violence_on"], s["drop"], s["drop_against_pose"], s["target_met"]
    (10.5, 0.045, 0.041, True)
    """
    median = {d: statistics.median(r[d]["cameras"] for r in rows) for d in DESIGNS}
    edges = all(r[d]["edge_found"] for r in rows for d in DESIGNS)

    def drop(key: str) -> float | None:
        ratios = [r[key] for r in rows if r[key] is not None]
        return round(1.0 - statistics.median(ratios), 3) if edges and ratios else None

    off = drop("ratio")
    return {
        "repeats": rows,
        "median": median,
        "edges_found": edges,
        "drop": off,
        "drop_against_pose": drop("ratio_pose"),
        "target_drop": TARGET_DROP,
        "target_met": None if off is None else off <= TARGET_DROP,
    }


def _edge(result: dict[str, Any]) -> str:
    return f"{result['cameras']}" if result["edge_found"] else f"≥ {result['cameras']}"


def _times(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:.2f}"


def render_section(results: dict[str, Any]) -> str:
    """The markdown section of docs/benchmarks.md for these results."""
    lines = [
        "## Violence verifier: gated capacity with it, with the pose rule, and with violence off",
        "",
        "The gated fleet of the capacity table (walking footage, 720p/15 fps, gate on, shared "
        "service, every other rule at its default) with the violence rule's verified method "
        "(the default: the pose trigger, then the I3D verifier in inference-0), with its "
        "`pose` method (the trigger's pose rule alone) and with violence off. Each edge "
        "found as in `make bench` (N held and N + 1 failed, 45-s windows), the searches "
        "interleaved. The benchmark's cameras have no counter zone, so with violence off "
        "no rule reads people and the pose model does not run at all.",
        "",
        "| repetition | verified | pose method | violence off | verified / pose | "
        "verified / off | verifier looks (verified search) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["repeats"]:
        on = row["violence_on"]
        lines.append(
            f"| {row['repetition']} | {_edge(on)} | {_edge(row['violence_pose'])} | "
            f"{_edge(row['violence_off'])} | {_times(row['ratio_pose'])} | "
            f"{_times(row['ratio'])} | {on['verifier_looks']} in {on['search_s']:.0f} s |"
        )
    median = results["median"]
    off, pose = results["drop"], results["drop_against_pose"]
    lines += [
        f"| median | {median['violence_on']:g} | {median['violence_pose']:g} | "
        f"{median['violence_off']:g} | {_times(None if pose is None else 1 - pose)} | "
        f"{_times(None if off is None else 1 - off)} | |",
        "",
    ]
    if off is None or pose is None:
        lines.append(
            "Target (at most 10 % lower than violence off): not judged, an edge was not found."
        )
        return "\n".join(lines)
    verdict = "met" if results["target_met"] else "missed"
    lines.append(
        f"Target (at most 10 % lower than violence off): {verdict}, {100 * off:.1f} % lower "
        f"(median of the repetitions' ratios). Against the pose method, which runs the same "
        f"pose model, the verifier costs {100 * pose:.1f} %."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="repetitions (default 2)")
    parser.add_argument(
        "--append",
        action="store_true",
        help="add the repetitions to those in bench/results/violence_cost.json",
    )
    args = parser.parse_args(argv)
    machine = report.machine_info()
    log(f"violence cost on {machine['cpu']} (load {machine['load_avg_at_start']})")
    earlier = json.loads(RESULTS.read_text()) if args.append and RESULTS.exists() else {}
    with tempfile.TemporaryDirectory(prefix="cashwatch-bench-") as tmp:
        results = run(args.repeats, Path(tmp), earlier.get("repeats", []))
    command = f"python -m bench.violence_cost --repeats {args.repeats}"
    results.update(
        measured_at=time.time(),
        machine=machine,
        command=f"{earlier['command']}, then {command} --append" if earlier else command,
        elapsed_s=round(time.monotonic() - STARTED) + int(earlier.get("elapsed_s", 0)),
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(render_section(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
