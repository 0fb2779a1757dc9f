"""Repetitions of the capacity comparison, and what the results report from them.

One `make bench` measures the whole comparison (seed, gate off, gate on) several times,
interleaved, since one search on a shared machine can land a camera or two off (FACTS.md:
gated capacity 13 one day, 6 another). Each repetition reports its capacities and ratios;
the results carry their medians. A ratio needs the edge found for both designs in it: a
lower bound ("at least N") divided by anything is no ratio.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench.capacity import CapacityResult

DESIGNS = ("baseline", "gating_off", "gating_on")  # the comparison, in every repetition
PER_CAMERA = "gating_on_per_camera"  # gate on, a model in each worker: the yardstick
# Gate on, the shared service, violence by the `pose` method: the per-camera design's own
# rules (a camera with its own model hosts no video verifier), so the two designs are
# compared on the same work; measured beside it, in the first repetition.
SHARED_POSE = "gating_on_pose"
YARDSTICKS = (PER_CAMERA, SHARED_POSE)  # measured once per run
RATIOS = ("gating_off", "gating_on")  # each against the seed design ("baseline")


def edge_ratio(repetition: dict[str, Any], kind: str) -> float | None:
    """`kind`'s capacity over the seed's in one repetition; None unless both edges were
    found and the seed held at least one camera.

    >>> rep = {"baseline": 4, "gating_on": 13, "edge_found": {"baseline": True,
    ...        "gating_on": True}}
    >>> edge_ratio(rep, "gating_on")
    3.25
    >>> rep["edge_found"]["baseline"] = False
    >>> edge_ratio(rep, "gating_on") is None
    True
    """
    base, n = repetition.get("baseline"), repetition.get(kind)
    edges = repetition.get("edge_found", {})
    if not (edges.get("baseline") and edges.get(kind)) or not base or n is None:
        return None
    return round(float(n) / float(base), 2)


def repetition_dict(
    index: int, found: dict[str, CapacityResult], errors: dict[str, str]
) -> dict[str, Any]:
    """One repetition as the results keep it (`index` from 0; designs in measuring order)."""
    rep: dict[str, Any] = {"repetition": index + 1, "order": list(found), "edge_found": {}}
    rep["details"] = {kind: result.as_dict() for kind, result in found.items()}
    for kind, result in found.items():
        rep[kind] = None if kind in errors else result.cameras
        rep["edge_found"][kind] = kind not in errors and result.edge_found
    for kind in RATIOS:
        rep[f"ratio_{kind}"] = edge_ratio(rep, kind)
    if errors:
        rep["errors"] = dict(errors)
    return rep


def median_index(values: list[int | None]) -> int | None:
    """Index of the value that is the (low) median of those measured; the first such.

    >>> median_index([13, 6, 12]), median_index([None, 5, 7]), median_index([None])
    (2, 1, None)
    """
    measured = [v for v in values if v is not None]
    if not measured:
        return None
    return values.index(statistics.median_low(measured))


def median_ratio(values: list[float | None]) -> float | None:
    """The median of the repetitions' ratios; None if any repetition has none.

    >>> median_ratio([3.25, 2.5, 3.0]), median_ratio([3.25, None, 3.0])
    (3.0, None)
    """
    if not values or any(v is None for v in values):
        return None
    return round(statistics.median(v for v in values if v is not None), 2)


def summarize_repeats(repeats: list[dict[str, Any]]) -> dict[str, Any]:
    """The `capacity` section of the results from its repetitions.

    Each design's capacity is the (low) median over the repetitions that measured it,
    with `edge_found` true only if every one of them found the edge; `details` holds
    the search of the repetition that gave the median. The ratios are the medians of
    the repetitions' ratios.
    """
    capacity: dict[str, Any] = {
        "repeats": repeats,
        "edge_found": {},
        "details": {},
        "median_repetition": {},
    }
    for kind in (*DESIGNS, *YARDSTICKS):
        measured_in = [rep for rep in repeats if kind in rep]
        if not measured_in:
            continue
        index = median_index([rep[kind] for rep in measured_in])
        capacity[kind] = None if index is None else measured_in[index][kind]
        capacity["edge_found"][kind] = all(rep["edge_found"][kind] for rep in measured_in)
        if index is not None:
            capacity["details"][kind] = measured_in[index]["details"][kind]
            capacity["median_repetition"][kind] = measured_in[index]["repetition"]
    for kind in RATIOS:
        capacity[f"ratio_{kind}"] = median_ratio([rep.get(f"ratio_{kind}") for rep in repeats])
    errors = {
        f"{kind} (repetition {rep['repetition']})": error
        for rep in repeats
        for kind, error in rep.get("errors", {}).items()
    }
    if errors:
        capacity["errors"] = errors
    return capacity
