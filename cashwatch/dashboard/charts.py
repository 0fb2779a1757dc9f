"""Altair charts shared by the pages."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

import altair as alt
import pandas as pd

from cashwatch.core.event_types import EVENT_TYPE_TABLE
from cashwatch.dashboard.event_details import TYPE_NAMES, shown_name
from cashwatch.i18n import N_, _

MAX_CHART_ROWS = 500
MAX_CHART_COLUMNS = 4
MAX_CATEGORIES = 60
MAX_COLOURS = 12


def _type_scale() -> alt.Scale:
    """The event types' own colours (`cashwatch.core.event_types`), as on the Overview."""
    return alt.Scale(
        domain=list(EVENT_TYPE_TABLE), range=[t.colour.hex for t in EVENT_TYPE_TABLE.values()]
    )


def _scale_for(column: str) -> Any:
    """The event types' own colours when a chart is coloured by type, else Vega's."""
    return _type_scale() if column == "event_type" else alt.Undefined


def _legend(names: dict[str, str]) -> Any:
    """A legend that shows stored words (event types, states) as people read them in the
    language in effect; Vega's own where they read as stored (English)."""
    expr = "datum.label"
    for word, name in names.items():
        shown = _(name)
        if shown != word:
            expr = (
                f"datum.label === {json.dumps(word)} ? "
                f"{json.dumps(shown, ensure_ascii=False)} : {expr}"
            )
    return alt.Undefined if expr == "datum.label" else alt.Legend(labelExpr=expr)


def _type_legend(column: str) -> Any:
    return _legend(TYPE_NAMES) if column == "event_type" else alt.Undefined


# A tooltip names each value by its column, as it always has; other languages translate
# the name (the services table's columns are marked where `system_info` builds it)
COLUMN_NAMES = {
    "hour": N_("hour"),
    "events": N_("events"),
    "starts": N_("starts"),
    "event_type": N_("event_type"),
    "camera_id": N_("camera_id"),
}


def _tip(field: str, kind: str, values: str | None = None) -> alt.Tooltip:
    """A tooltip line for `field`, titled with its column's name in the language in
    effect; its values read from the column `values` where given (a type's name)."""
    return alt.Tooltip(f"{values or field}:{kind}", title=_(COLUMN_NAMES.get(field, field)))


def _with_type_names(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with `type_name`, its event types as people read them (for tooltips)."""
    return frame.assign(type_name=[shown_name(TYPE_NAMES, t) for t in frame["event_type"]])


def result_chart(frame: pd.DataFrame) -> alt.Chart | None:
    """A chart of a query's result where one reads well, else None.

    Only for a summary (at most MAX_CHART_COLUMNS columns): raw rows (`SELECT *`) chart
    nothing useful. The last numeric column is the value (aggregates come last: `SELECT
    hour, count(*)`). Along x: the first time column (a line), else the first other
    column, e.g. a camera or an hour of the day (bars). A further text column with a few
    values colours the marks, so "per hour per type" shows each type.
    """
    numeric = [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    if frame.empty or not numeric or len(frame.columns) > MAX_CHART_COLUMNS:
        return None
    value = numeric[-1]
    data = frame.head(MAX_CHART_ROWS).copy()
    times = [c for c in data.columns if pd.api.types.is_datetime64_any_dtype(data[c])]
    rest = [c for c in data.columns if c != value]
    x = times[0] if times else (rest[0] if rest else None)
    if x is None or (not times and data[x].nunique() > MAX_CATEGORIES):
        return None
    texts = [c for c in rest if c != x and c not in numeric and c not in times]
    colour = next((c for c in texts if data[c].nunique() <= MAX_COLOURS), None)
    for column in (c for c in (x, colour) if c is not None and c not in times):
        data[column] = data[column].astype(str)
    mark = alt.Chart(data).mark_line(point=True) if times else alt.Chart(data).mark_bar()
    encoding: dict[str, Any] = {
        "x": alt.X(f"{x}:{'T' if times else 'N'}", sort=None, title=x),
        "y": alt.Y(f"{value}:Q", title=value),
        "tooltip": [c for c in (x, colour, value) if c is not None],
    }
    if colour is not None:
        encoding["color"] = alt.Color(f"{colour}:N", title=colour, scale=_scale_for(colour))
    return cast(alt.Chart, mark.encode(**encoding))


def _hour_labels(timestamps: pd.Series) -> pd.Series:
    """Local 'MM-DD HH:00' labels: ordinal bars stay wide even with a single hour of data."""
    local = pd.to_datetime(timestamps, utc=True).dt.tz_convert(
        dt.datetime.now().astimezone().tzinfo
    )
    return local.dt.strftime("%m-%d %H:00")


def _hourly_bars(
    frame: pd.DataFrame, colour: str, colour_title: str, count: str, count_title: str, height: int
) -> alt.Chart:
    """Stacked bars of rows per local hour (from `started_at`), coloured by `colour`."""
    data = frame.assign(hour=_hour_labels(frame["started_at"]))
    counts = data.groupby(["hour", colour]).size().reset_index(name=count)
    names = None
    if colour == "event_type":
        counts, names = _with_type_names(counts), "type_name"
    return cast(
        alt.Chart,
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("hour:O", title=_("Hour")),
            y=alt.Y(f"{count}:Q", title=count_title, axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color(
                f"{colour}:N",
                title=colour_title,
                scale=_scale_for(colour),
                legend=_type_legend(colour),
            ),
            tooltip=[_tip("hour", "O"), _tip(colour, "N", names), _tip(count, "Q")],
        )
        .properties(height=height),
    )


def events_by_hour(events: pd.DataFrame) -> alt.Chart:
    return _hourly_bars(events, "event_type", _("Type"), "events", _("Events"), 240)


def events_by_camera(events: pd.DataFrame) -> alt.Chart:
    counts = events.groupby(["camera_id", "event_type"]).size().reset_index(name="events")
    return cast(
        alt.Chart,
        alt.Chart(_with_type_names(counts))
        .mark_bar()
        .encode(
            y=alt.Y("camera_id:N", title=_("Camera"), sort="-x"),
            x=alt.X("events:Q", title=_("Events"), axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color(
                "event_type:N",
                title=_("Type"),
                scale=_type_scale(),
                legend=_type_legend("event_type"),
            ),
            tooltip=[
                _tip("camera_id", "N"),
                _tip("event_type", "N", "type_name"),
                _tip("events", "Q"),
            ],
        )
        .properties(height=240),
    )


def worker_runs_chart(runs: pd.DataFrame) -> alt.Chart:
    return _hourly_bars(runs, "camera_id", _("Camera"), "starts", _("Worker starts"), 220)


# a service's state as its badge says it (cashwatch.dashboard.widgets.BADGE_COLOURS)
SERVICE_STATE_COLOURS = {
    "running": "#2ca02c",
    "starting": "#1f77b4",
    "error": "#d62728",
    "stopped": "#7f7f7f",
}
# the states as people read them (the data keep the English word)
SERVICE_STATE_NAMES = {
    "running": N_("running"),
    "starting": N_("starting"),
    "error": N_("error"),
    "stopped": N_("stopped"),
}


def service_bars(services: pd.DataFrame, value: str, title: str) -> alt.Chart:
    """One bar per shared inference service (a `system_info.services_table` frame),
    coloured by its state: the slow or backed-up one stands out, a red one is down.
    `title` is already in the language in effect (the caller translates it)."""
    return cast(
        alt.Chart,
        alt.Chart(
            services.assign(
                state_name=[shown_name(SERVICE_STATE_NAMES, s) for s in services["state"]]
            )
        )
        .mark_bar()
        .encode(
            y=alt.Y("service:N", title=None, sort=None),
            x=alt.X(f"{value}:Q", title=title),
            color=alt.Color(
                "state:N",
                title=_("State"),
                scale=alt.Scale(
                    domain=list(SERVICE_STATE_COLOURS), range=list(SERVICE_STATE_COLOURS.values())
                ),
                legend=_legend(SERVICE_STATE_NAMES),
            ),
            tooltip=[
                _tip("service", "N"),
                _tip("state", "N", "state_name"),
                *(_tip(f, "Q") for f in dict.fromkeys(["cameras", "queue max", value])),
            ],
        )
        .properties(title=title, height=40 + 24 * len(services)),
    )
