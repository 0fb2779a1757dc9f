"""The capacity plot: worker CPU against the number of cameras, one line per design.

Drawn with matplotlib (installed with Ultralytics) on its non-interactive Agg backend, so
it needs no display.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on a benchmark machine

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

COLOURS = {
    "baseline": "#d62728",
    "gating_off": "#1f77b4",
    "gating_on": "#2ca02c",
    "gating_on_per_camera": "#9467bd",
    "gating_on_pose": "#8c564b",
}
LABELS = {
    "baseline": "(a) seed design",
    "gating_off": "(b) CashWatch, gate off",
    "gating_on": "(c) CashWatch, gate on",
    "gating_on_per_camera": "(c') gate on, a model per camera",
    "gating_on_pose": "(c\") gate on, shared, (c')'s rules",
}
SIZE_IN, DPI = (9.0, 5.4), 100  # 900 x 540 px


def draw_capacity_plot(capacity: dict[str, Any], cpu_max: float, out: Path) -> None:
    """`capacity` is the results' capacity section (its `repeats`, each with the designs'
    `CapacityResult.as_dict()` under `details`). Every counted window of every repetition
    is a mark: a dot held real time, a cross did not; large marks are full windows, small
    ones probes. A design's line joins the median CPU at each N.

    CPU is the fleet's own processes (workers; the machine is shared, so its total
    says little), 100 % per core.
    """
    figure, axes = plt.subplots(figsize=SIZE_IN, dpi=DPI)
    try:
        max_n = 4
        for kind in COLOURS:
            runs = [rep for rep in capacity.get("repeats", []) if kind in rep.get("details", {})]
            if runs:
                max_n = max(max_n, *_draw_design(axes, kind, runs))
        axes.set_xlim(0, max_n + 1)
        axes.set_ylim(0, cpu_max * 1.05)
        axes.axhline(cpu_max, color="#888888", linestyle=":", linewidth=1)
        axes.set_xlabel("cameras running (720p, 15 fps, walking footage)")
        axes.set_ylabel(f"worker CPU, % (100 % per core, {cpu_max:.0f} % = every core)")
        axes.set_title("How many cameras each design keeps in real time (every repetition)")
        axes.grid(True, color="#e4e4e4")
        handles = [
            *axes.get_legend_handles_labels()[0],
            Line2D([], [], color="#555555", marker="o", linestyle="", label="real time"),
            Line2D([], [], color="#555555", marker="x", linestyle="", label="fell behind"),
        ]
        axes.legend(handles=handles, loc="lower right", fontsize=8)
        figure.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out)
    finally:
        plt.close(figure)


def _edges(kind: str, runs: list[dict[str, Any]]) -> str:
    """`13 / ≥ 14 / 13`: each repetition's capacity, ≥ where the edge was not found."""
    return " / ".join(
        f"{'' if rep['edge_found'].get(kind) else '≥ '}{rep.get(kind)}" for rep in runs
    )


def _draw_design(axes: Any, kind: str, runs: list[dict[str, Any]]) -> list[int]:
    """One design's windows over all repetitions; returns the camera counts it tried."""
    colour = COLOURS.get(kind, "#555555")
    full_s = max((w["seconds"] for rep in runs for w in rep["details"][kind]["trail"]), default=0)
    by_n: dict[int, list[float]] = {}
    for rep in runs:
        for window in rep["details"][kind]["trail"]:
            cpu = window.get("fleet_cpu_percent", window["cpu_percent"])
            by_n.setdefault(window["n"], []).append(cpu)
            axes.plot(
                window["n"],
                cpu,
                color=colour,
                markersize=8 if window["seconds"] >= full_s else 5,
                marker="o" if window["realtime"] else "x",
                markeredgewidth=2,
                linestyle="",
            )
    n = sorted(by_n)
    axes.plot(
        n,
        [statistics.median(by_n[k]) for k in n],
        color=colour,
        linewidth=2,
        label=f"{LABELS.get(kind, kind)}: {_edges(kind, runs)} cameras",
    )
    return n
