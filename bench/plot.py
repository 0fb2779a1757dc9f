"""The capacity plot (cameras vs. machine CPU), drawn with OpenCV: matplotlib is not
installed here and the plot needs nothing more than lines, markers and text."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import cv2
import numpy as np

WIDTH, HEIGHT = 900, 540
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 80, 220, 50, 70
COLOURS = {"baseline": (60, 60, 220), "gating_off": (200, 120, 30), "gating_on": (40, 160, 40)}
LABELS = {"baseline": "(a) seed design", "gating_off": "(b) CashWatch, gate off",
          "gating_on": "(c) CashWatch, gate on"}
FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_capacity_plot(capacity: dict[str, Any], cpu_max: float, out: Path) -> None:
    """`capacity[kind]` is `CapacityResult.as_dict()`; filled dots held real time, crosses not.

    CPU is the fleet's own processes (workers; the machine is shared, so its total
    says little), 100 % per core.
    """
    image = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    trails = {kind: data.get("trail", []) for kind, data in capacity.items()}
    max_n = max([4, *(p["n"] for t in trails.values() for p in t)]) + 1
    x0, y0 = MARGIN_L, HEIGHT - MARGIN_B
    x1, y1 = WIDTH - MARGIN_R, MARGIN_T

    def to_px(n: float, cpu: float) -> tuple[int, int]:
        return (int(x0 + (x1 - x0) * n / max_n), int(y0 - (y0 - y1) * min(cpu, cpu_max) / cpu_max))

    _axes(image, max_n, cpu_max, to_px)
    for row, (kind, trail) in enumerate(trails.items()):
        colour = COLOURS.get(kind, (90, 90, 90))
        points = sorted({p["n"]: p for p in trail}.values(), key=lambda p: p["n"])
        pixels = [to_px(p["n"], p.get("fleet_cpu_percent", p["cpu_percent"])) for p in points]
        for a, b in itertools.pairwise(pixels):
            cv2.line(image, a, b, colour, 2, cv2.LINE_AA)
        for point, pixel in zip(points, pixels, strict=True):
            if point["realtime"]:
                cv2.circle(image, pixel, 6, colour, -1, cv2.LINE_AA)
            else:
                _cross(image, pixel, colour)
        cameras = capacity[kind].get("cameras", 0)
        legend_y = MARGIN_T + 30 + 28 * row
        cv2.circle(image, (x1 + 20, legend_y - 5), 6, colour, -1, cv2.LINE_AA)
        cv2.putText(image, f"{LABELS.get(kind, kind)}: {cameras}", (x1 + 32, legend_y),
                    FONT, 0.42, (30, 30, 30), 1, cv2.LINE_AA)
    legend_y = MARGIN_T + 30 + 28 * len(trails)
    cv2.putText(image, "dot: real time, x: not", (x1 + 14, legend_y + 10), FONT, 0.4,
                (90, 90, 90), 1, cv2.LINE_AA)
    cv2.putText(image, "Cameras kept in real time (720p, 15 fps, walking footage)",
                (x0 + 80, 28),
                FONT, 0.6, (20, 20, 20), 1, cv2.LINE_AA)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), image):
        raise OSError(f"OpenCV could not write the plot to {out}")


def _axes(image: np.ndarray, max_n: int, cpu_max: float, to_px: Any) -> None:
    grey, dark = (220, 220, 220), (40, 40, 40)
    for n in range(0, max_n + 1):
        x, y_bottom = to_px(n, 0)
        cv2.line(image, (x, y_bottom), (x, to_px(n, cpu_max)[1]), grey, 1)
        cv2.putText(image, str(n), (x - 6, y_bottom + 20), FONT, 0.45, dark, 1, cv2.LINE_AA)
    for cpu in np.linspace(0, cpu_max, 5):
        x_left, y = to_px(0, cpu)
        cv2.line(image, (x_left, y), (to_px(max_n, cpu)[0], y), grey, 1)
        cv2.putText(image, f"{cpu:.0f}%", (x_left - 55, y + 5), FONT, 0.45, dark, 1, cv2.LINE_AA)
    origin, right, top = to_px(0, 0), to_px(max_n, 0), to_px(0, cpu_max)
    cv2.line(image, origin, right, dark, 1)
    cv2.line(image, origin, top, dark, 1)
    cv2.putText(image, "cameras", ((origin[0] + right[0]) // 2 - 30, origin[1] + 45), FONT, 0.5,
                dark, 1, cv2.LINE_AA)
    cv2.putText(image, "worker CPU", (8, top[1] - 14), FONT, 0.45, dark, 1, cv2.LINE_AA)


def _cross(image: np.ndarray, centre: tuple[int, int], colour: tuple[int, int, int]) -> None:
    x, y = centre
    cv2.line(image, (x - 6, y - 6), (x + 6, y + 6), colour, 2, cv2.LINE_AA)
    cv2.line(image, (x - 6, y + 6), (x + 6, y - 6), colour, 2, cv2.LINE_AA)
