"""The capacity plot: worker CPU against the number of cameras, one line per design.

Drawn with matplotlib (installed with Ultralytics) on its non-interactive Agg backend, so
it needs no display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on a benchmark machine

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

COLOURS = {"baseline": "#d62728", "gating_off": "#1f77b4", "gating_on": "#2ca02c"}
LABELS = {
    "baseline": "(a) seed design",
    "gating_off": "(b) CashWatch, gate off",
    "gating_on": "(c) CashWatch, gate on",
}
SIZE_IN, DPI = (9.0, 5.4), 100  # 900 x 540 px


def draw_capacity_plot(capacity: dict[str, Any], cpu_max: float, out: Path) -> None:
    """`capacity[kind]` is `CapacityResult.as_dict()`; filled dots held real time, crosses not.

    CPU is the fleet's own processes (workers; the machine is shared, so its total
    says little), 100 % per core.
    """
    figure, axes = plt.subplots(figsize=SIZE_IN, dpi=DPI)
    try:
        max_n = 4
        for kind, data in capacity.items():
            max_n = max(max_n, *_draw_design(axes, kind, data))
        axes.set_xlim(0, max_n + 1)
        axes.set_ylim(0, cpu_max * 1.05)
        axes.axhline(cpu_max, color="#888888", linestyle=":", linewidth=1)
        axes.set_xlabel("cameras running (720p, 15 fps, walking footage)")
        axes.set_ylabel(f"worker CPU, % (100 % per core, {cpu_max:.0f} % = every core)")
        axes.set_title("How many cameras each design keeps in real time")
        axes.grid(True, color="#e4e4e4")
        handles = [
            *axes.get_legend_handles_labels()[0],
            Line2D([], [], color="#555555", marker="o", linestyle="", label="real time"),
            Line2D([], [], color="#555555", marker="x", linestyle="", label="fell behind"),
        ]
        axes.legend(handles=handles, loc="lower right", fontsize=9)
        figure.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out)
    finally:
        plt.close(figure)


def _draw_design(axes: Any, kind: str, data: dict[str, Any]) -> list[int]:
    """One design's search trail; returns the camera counts it tried."""
    colour = COLOURS.get(kind, "#555555")
    points = sorted({p["n"]: p for p in data.get("trail", [])}.values(), key=lambda p: p["n"])
    n = [p["n"] for p in points]
    cpu = [p.get("fleet_cpu_percent", p["cpu_percent"]) for p in points]
    axes.plot(
        n,
        cpu,
        color=colour,
        linewidth=2,
        label=f"{LABELS.get(kind, kind)}: {data.get('cameras', 0)} cameras",
    )
    for point, value in zip(points, cpu, strict=True):
        axes.plot(
            point["n"],
            value,
            color=colour,
            markersize=8,
            marker="o" if point["realtime"] else "x",
            markeredgewidth=2,
        )
    return n
