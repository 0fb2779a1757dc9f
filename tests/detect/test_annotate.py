"""A zone looks the same in an event's snapshot and in the live view."""

from __future__ import annotations

import numpy as np
import pytest

from cashwatch.config import ZonesConfig
from cashwatch.core.event_types import EVENT_TYPE_TABLE, ZONE_STYLES, event_type
from cashwatch.core.events import DetectedEvent
from cashwatch.dashboard import live
from cashwatch.detect.annotate import PERSON_COLOUR, draw_event, draw_zones

TRIANGLE = [(0.1, 0.2), (0.8, 0.2), (0.5, 0.9)]


def _zones(name: str) -> ZonesConfig:
    return ZonesConfig.model_validate({name: TRIANGLE})


@pytest.mark.parametrize("name", list(ZONE_STYLES))
def test_a_zone_is_drawn_alike_by_the_snapshot_and_the_live_view(name: str) -> None:
    blank = np.zeros((120, 160, 3), np.uint8)
    snapshot = blank.copy()
    draw_zones(snapshot, _zones(name))
    live_view = live.annotate(blank, None, _zones(name))
    drawn = snapshot.any(axis=2)
    assert drawn.sum() > 100 and not blank.any()  # the outline and label, on copies only
    assert np.array_equal(live_view, snapshot)
    # the outline's pixels are the style's colour, in OpenCV's channel order
    edge_y = round(0.2 * 120)
    assert tuple(int(v) for v in snapshot[edge_y, 80]) == ZONE_STYLES[name].colour.bgr


def test_the_zone_colours_read_on_dark_video() -> None:
    """The palette (the zone editor's): cashier amber, counter teal, drawer orchid."""
    assert {n: z.colour.bgr for n, z in ZONE_STYLES.items()} == {
        "cashier": (36, 165, 245),
        "counter": (200, 200, 60),
        "drawer": (200, 80, 200),
    }
    assert all(z.thickness_px == 2 and z.label == z.name for z in ZONE_STYLES.values())


def test_an_unset_zone_is_not_drawn() -> None:
    image = np.zeros((40, 40, 3), np.uint8)
    draw_zones(image, ZonesConfig())
    assert not image.any()


def test_the_zone_editor_outlines_zones_in_the_drawings_colours() -> None:
    import altair as alt

    from cashwatch.dashboard.zones_editor import zone_chart

    chart = zone_chart(np.zeros((48, 64, 3), np.uint8), {"cashier": [list(p) for p in TRIANGLE]})
    with alt.data_transformers.disable_max_rows():  # the click grid: Streamlit has no limit
        spec = chart.to_dict()
    scales = [
        layer["encoding"]["color"]["scale"]
        for layer in spec["layer"]
        if "color" in layer.get("encoding", {})
    ]
    # the BGR tuples drawn above, in RGB hex: the editor's colours as they always were
    assert scales == [
        {"domain": ["cashier", "counter", "drawer"], "range": ["#f5a524", "#3cc8c8", "#c850c8"]}
    ]


@pytest.mark.parametrize("name", list(EVENT_TYPE_TABLE))
def test_an_events_box_in_a_snapshot_takes_its_types_colour(name: str) -> None:
    image = np.zeros((120, 160, 3), np.uint8)
    draw_event(image, DetectedEvent(name, 0.0, 0.9, (20.0, 40.0, 140.0, 110.0)))  # type: ignore[arg-type]
    # the box's left edge, below the label: the colour the charts and Overview give the type
    assert tuple(int(c) for c in image[80, 20]) == event_type(name).colour.bgr


def test_a_person_is_drawn_in_one_colour_in_snapshots_and_the_live_view() -> None:
    assert live.PERSON_BOX_COLOUR == PERSON_COLOUR
