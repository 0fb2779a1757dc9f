"""Altair charts shared by the pages."""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd


def first_numeric_chart(frame: pd.DataFrame) -> alt.Chart | None:
    """A bar chart of the first numeric column against the first other column (or the row)."""
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
               and not pd.api.types.is_bool_dtype(frame[c])]
    if frame.empty or not numeric:
        return None
    value = numeric[0]
    labels = [c for c in frame.columns if c != value]
    data = frame.head(200).copy()
    if labels:
        category = labels[0]
        data[category] = data[category].astype(str)
    else:
        category = "row"
        data[category] = range(len(data))
    return alt.Chart(data).mark_bar().encode(
        x=alt.X(f"{category}:N", sort=None, title=category),
        y=alt.Y(f"{value}:Q", title=value),
        tooltip=[category, value])


def _hour_labels(timestamps: pd.Series) -> pd.Series:
    """Local 'MM-DD HH:00' labels: ordinal bars stay wide even with a single hour of data."""
    local = pd.to_datetime(timestamps, utc=True).dt.tz_convert(
        dt.datetime.now().astimezone().tzinfo)
    return local.dt.strftime("%m-%d %H:00")


def _hourly_bars(frame: pd.DataFrame, colour: str, colour_title: str, count: str,
                 count_title: str, height: int) -> alt.Chart:
    """Stacked bars of rows per local hour (from `started_at`), coloured by `colour`."""
    data = frame.assign(hour=_hour_labels(frame["started_at"]))
    counts = data.groupby(["hour", colour]).size().reset_index(name=count)
    return alt.Chart(counts).mark_bar().encode(
        x=alt.X("hour:O", title="Hour"), y=alt.Y(f"{count}:Q", title=count_title),
        color=alt.Color(f"{colour}:N", title=colour_title),
        tooltip=["hour", colour, count]).properties(height=height)


def events_by_hour(events: pd.DataFrame) -> alt.Chart:
    return _hourly_bars(events, "event_type", "Type", "events", "Events", 240)


def events_by_camera(events: pd.DataFrame) -> alt.Chart:
    counts = events.groupby(["camera_id", "event_type"]).size().reset_index(name="events")
    return alt.Chart(counts).mark_bar().encode(
        y=alt.Y("camera_id:N", title="Camera", sort="-x"), x=alt.X("events:Q", title="Events"),
        color=alt.Color("event_type:N", title="Type"),
        tooltip=["camera_id", "event_type", "events"]).properties(height=240)


def worker_runs_chart(runs: pd.DataFrame) -> alt.Chart:
    return _hourly_bars(runs, "camera_id", "Camera", "starts", "Worker starts", 220)
