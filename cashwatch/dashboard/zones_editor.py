"""Drawing zones by clicking on the camera's frame.

`st.image` reports no clicks, so the frame is the background of an Altair chart with an
invisible grid of points: a click selects the nearest grid point (`nearest=True`) and
Streamlit hands that selection to a callback, which appends it to the zone being drawn.
Points can also be typed in a table. Coordinates are normalised 0..1 (x right, y down).
"""

from __future__ import annotations

import base64
from typing import Any, cast

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from cashwatch.core.event_types import ZONE_STYLES
from cashwatch.dashboard.live import to_jpeg
from cashwatch.i18n import N_, _, ngettext

ZONE_NAMES = tuple(ZONE_STYLES)
# a zone as the editor names it (the config's key stays the value)
ZONE_LABELS = {"cashier": N_("cashier"), "counter": N_("counter"), "drawer": N_("drawer")}
GRID_STEP = 0.01
CHART_WIDTH = 640
SELECTION = "click"


def zone_label(name: str) -> str:
    """A zone's name in the language in effect."""
    label = ZONE_LABELS.get(name)
    return _(label) if label else name


def points_key(camera_id: str) -> str:
    return f"zone_points_{camera_id}"


def grid_frame(step: float = GRID_STEP) -> pd.DataFrame:
    values = np.round(np.arange(0.0, 1.0 + step / 2, step), 4)
    xs, ys = np.meshgrid(values, values)
    return pd.DataFrame({"x": xs.ravel(), "y": ys.ravel()})


def point_from_selection(state: Any) -> tuple[float, float] | None:
    """The clicked grid point from Streamlit's chart selection state, if any."""
    try:
        chosen = state["selection"][SELECTION]
    except (KeyError, TypeError):
        return None
    if not chosen:
        return None
    first = chosen[0]
    return (
        min(1.0, max(0.0, round(float(first["x"]), 4))),
        min(1.0, max(0.0, round(float(first["y"]), 4))),
    )


def _background(image_bgr: np.ndarray) -> tuple[alt.Chart, int]:
    """The frame stretched over the 0..1 square by data corners, not pixel sizes, so it
    lines up with the axes whatever room Streamlit's layout leaves the plot."""
    height = round(CHART_WIDTH * image_bgr.shape[0] / image_bgr.shape[1])
    url = "data:image/jpeg;base64," + base64.b64encode(to_jpeg(image_bgr)).decode()
    corners = pd.DataFrame({"x": [0.0], "x2": [1.0], "y": [0.0], "y2": [1.0], "url": [url]})
    chart = (
        alt.Chart(corners)
        .mark_image(aspect=False, align="left", baseline="top")
        .encode(x="x:Q", x2="x2:Q", y="y:Q", y2="y2:Q", url="url:N")
    )
    return chart, height


def _outlines(zones: dict[str, list[list[float]]]) -> alt.Chart:
    rows = []
    for name, points in zones.items():
        closed = [*points, points[0]] if len(points) >= 3 else points
        rows += [{"zone": name, "order": i, "x": x, "y": y} for i, (x, y) in enumerate(closed)]
    frame = pd.DataFrame(rows or [{"zone": "cashier", "order": 0, "x": None, "y": None}])
    # the colours of the snapshot's and the live view's outlines
    colour = alt.Color(
        "zone:N",
        scale=alt.Scale(
            domain=list(ZONE_STYLES), range=[z.colour.hex for z in ZONE_STYLES.values()]
        ),
        legend=None,
    )  # a legend takes room from the plot, and the image,
    # sized in pixels, would then no longer line up with the 0..1 axes
    return cast(
        alt.Chart,
        alt.Chart(frame)
        .mark_line(point=True, strokeWidth=2)
        .encode(x="x:Q", y="y:Q", order="order:Q", color=colour, detail="zone:N"),
    )


def zone_chart(image_bgr: np.ndarray, zones: dict[str, list[list[float]]]) -> alt.LayerChart:
    background, height = _background(image_bgr)
    click = alt.selection_point(
        name=SELECTION, on="click", nearest=True, fields=["x", "y"], clear=False, toggle=False
    )
    grid = (
        alt.Chart(grid_frame())
        .mark_point(opacity=0, size=4)
        .encode(x="x:Q", y="y:Q")
        .add_params(click)
    )
    x_scale = alt.Scale(domain=[0, 1], nice=False)
    y_scale = alt.Scale(domain=[0, 1], nice=False, reverse=True)
    return (
        alt.layer(background, grid, _outlines(zones))
        .encode(x=alt.X("x:Q", scale=x_scale, axis=None), y=alt.Y("y:Q", scale=y_scale, axis=None))
        .properties(
            width=CHART_WIDTH,
            height=height,
            padding=0,
            # the canvas is exactly the plot: a click's pixel maps straight to 0..1
            autosize=alt.AutoSizeParams(type="none"),
        )
    )


def _version(camera_id: str) -> int:
    return int(st.session_state.get(f"{points_key(camera_id)}_version", 0))


def _commit(camera_id: str, zones: dict[str, list[list[float]]]) -> None:
    """Make `zones` the editor's new base; a new version gives the widgets fresh keys,
    so the table's pending edits are never applied twice to data that already has them."""
    key = points_key(camera_id)
    st.session_state[key] = {name: [list(p) for p in pts] for name, pts in zones.items()}
    st.session_state[f"{key}_version"] = _version(camera_id) + 1


def _current(camera_id: str) -> dict[str, list[list[float]]]:
    key = points_key(camera_id)
    return dict(st.session_state.get(f"{key}_current", st.session_state[key]))


def _on_click(camera_id: str, chart_key: str, zone: str) -> None:
    point = point_from_selection(st.session_state.get(chart_key))
    if point is not None:
        zones = _current(camera_id)
        zones[zone] = [*zones.get(zone, []), list(point)]
        _commit(camera_id, zones)


def _undo(camera_id: str, zone: str) -> None:
    zones = _current(camera_id)
    zones[zone] = zones.get(zone, [])[:-1]
    _commit(camera_id, zones)


def _clear(camera_id: str, zone: str) -> None:
    zones = _current(camera_id)
    zones[zone] = []
    _commit(camera_id, zones)


def editor(camera_id: str, image_bgr: np.ndarray) -> dict[str, list[list[float]]]:
    """Draws the editor; returns the zones as edited so far (name -> points)."""
    key = points_key(camera_id)
    version = _version(camera_id)
    zone = st.radio(
        _("Zone to draw"),
        ZONE_NAMES,
        format_func=zone_label,
        horizontal=True,
        key=f"{key}_zone",
        on_change=lambda: _commit(camera_id, _current(camera_id)),
    )
    base: dict[str, list[list[float]]] = st.session_state[key]
    table = pd.DataFrame(base.get(zone) or [], columns=["x", "y"], dtype=float)
    left, right = st.columns([3, 1])
    with right:
        st.caption(_("Points (0..1)"))
        edited = st.data_editor(
            table,
            num_rows="dynamic",
            key=f"{key}_table_{zone}_{version}",
            hide_index=True,
            column_config={
                c: st.column_config.NumberColumn(
                    c, min_value=0.0, max_value=1.0, step=0.01, format="%.3f"
                )
                for c in ("x", "y")
            },
        )
        st.button(_("Undo last point"), key=f"{key}_undo", on_click=_undo, args=(camera_id, zone))
        st.button(_("Clear zone"), key=f"{key}_clear", on_click=_clear, args=(camera_id, zone))
    current = {**base, zone: [[float(r.x), float(r.y)] for r in edited.dropna().itertuples()]}
    st.session_state[f"{key}_current"] = current
    chart_key = f"{key}_chart_{version}"
    with left:
        st.altair_chart(
            zone_chart(image_bgr, current),
            key=chart_key,
            on_select=lambda: _on_click(camera_id, chart_key, zone),
            selection_mode=SELECTION,
            width="content",
        )
        count = len(current.get(zone) or [])
        points = ngettext("{zone}: {count} point.", "{zone}: {count} points.", count)
        how = _(
            "Click on the image to add a point to the selected zone (at least 3). "
            "Outlines: cashier orange, counter teal, drawer purple."
        )
        st.caption(points.format(zone=zone_label(zone), count=count) + " " + how)
    return current
