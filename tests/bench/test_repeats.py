"""Repetitions of the comparison: each one's ratios, their medians, and no ratio from a
search that did not find the edge; the report renders them."""

from __future__ import annotations

from typing import Any

from bench.capacity import CapacityResult
from bench.repeats import PER_CAMERA, SHARED_POSE, repetition_dict, summarize_repeats
from bench.report import capacity_section, memory_section


def repetition(index: int, edges: dict[str, int], lower_bounds: tuple[str, ...] = ()) -> Any:
    found = {}
    for kind, n in edges.items():
        found[kind] = CapacityResult(kind, n, edge_found=kind not in lower_bounds)
    return repetition_dict(index, found, {})


def three_repetitions() -> list[dict[str, Any]]:
    return [
        repetition(
            0,
            {"baseline": 4, "gating_off": 8, "gating_on": 11, PER_CAMERA: 12, SHARED_POSE: 12},
        ),
        repetition(1, {"baseline": 4, "gating_off": 9, "gating_on": 12}),
        repetition(2, {"baseline": 5, "gating_off": 8, "gating_on": 14}),
    ]


def test_each_repetition_has_its_ratios_and_the_results_their_medians() -> None:
    repeats = three_repetitions()
    assert [(r["ratio_gating_off"], r["ratio_gating_on"]) for r in repeats] == [
        (2.0, 2.75),
        (2.25, 3.0),
        (1.6, 2.8),
    ]
    capacity = summarize_repeats(repeats)
    assert (capacity["baseline"], capacity["gating_off"], capacity["gating_on"]) == (4, 8, 12)
    assert capacity["ratio_gating_off"] == 2.0 and capacity["ratio_gating_on"] == 2.8
    assert capacity["edge_found"] == {
        "baseline": True,
        "gating_off": True,
        "gating_on": True,
        PER_CAMERA: True,
        SHARED_POSE: True,
    }
    assert capacity[PER_CAMERA] == capacity[SHARED_POSE] == 12  # measured once
    assert capacity["median_repetition"]["gating_on"] == 2
    assert len(capacity["repeats"]) == 3


def test_a_search_without_its_edge_gives_at_least_n_and_no_ratio() -> None:
    repeats = three_repetitions()
    repeats[1] = repetition(
        1, {"baseline": 4, "gating_off": 9, "gating_on": 12}, lower_bounds=("gating_on",)
    )
    capacity = summarize_repeats(repeats)
    assert repeats[1]["ratio_gating_on"] is None and repeats[1]["ratio_gating_off"] == 2.25
    assert capacity["ratio_gating_on"] is None and capacity["ratio_gating_off"] == 2.0
    assert capacity["edge_found"]["gating_on"] is False
    lines = "\n".join(capacity_section({"capacity": capacity}))
    assert "| ≥ 12 |" in lines and "no ratio (edge not found)" in lines
    assert "(c)/(a) ≥ 3 — –" in lines  # no verdict on a ratio not computed
    # the two designs on the same rules; with the verifier's looks, a lower bound
    # against an edge compares nothing
    assert "(c\") not below (c') — 12 against 12, met" in lines
    assert "(c) against (c') — –" in lines


def test_the_designs_compare_on_the_same_rules_and_a_lower_bound_compares_nothing() -> None:
    repeats = three_repetitions()
    repeats[0] = repetition(
        0,
        {"baseline": 4, "gating_off": 8, "gating_on": 11, PER_CAMERA: 13, SHARED_POSE: 12},
        lower_bounds=(PER_CAMERA,),
    )
    lines = "\n".join(capacity_section({"capacity": summarize_repeats(repeats)}))
    assert "(c\") not below (c') — –" in lines and "(c) against (c') — –" in lines
    repeats[0] = repetition(
        0, {"baseline": 4, "gating_off": 8, "gating_on": 11, PER_CAMERA: 13, SHARED_POSE: 12}
    )
    lines = "\n".join(capacity_section({"capacity": summarize_repeats(repeats)}))
    assert "(c\") not below (c') — 12 against 13, missed (0.92× the target)" in lines


def test_the_report_shows_every_repetition_and_the_memory_per_camera() -> None:
    capacity = summarize_repeats(three_repetitions())
    at_n = {
        "used_mib": 9000.0,
        "processes": {
            "manager": {"count": 1, "rss_mib": 120.0, "pss_mib": 100.0, "uss_mib": 90.0},
            "services": {"count": 2, "rss_mib": 400.0, "pss_mib": 300.0, "uss_mib": 250.0},
            "workers": {"count": 13, "rss_mib": 1300.0, "pss_mib": 900.0, "uss_mib": 650.0},
        },
    }
    at_0 = {**at_n, "used_mib": 7000.0}
    shared = {"n": 13, "buffers_filled": True, "at_n": at_n, "at_0": at_0}
    shared["camera_memory_mib"] = 2000.0 / 13
    results = {"capacity": capacity, "memory": {"camera_memory": {"shared": shared}}}
    lines = "\n".join(capacity_section(results) + memory_section(results))
    for needed in ("repetition 1 | repetition 2 | repetition 3 | median", "### Repetition 3"):
        assert needed in lines
    assert "| 154 | 100 / 69 / 50 | 2: 400 / 300 / 250 | 120 / 100 / 90 |" in lines
