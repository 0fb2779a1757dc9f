"""The Events page: browse, watch and review what the detectors raised."""

from __future__ import annotations

from typing import Any, cast

import pandas as pd
import streamlit as st

from cashwatch.dashboard import charts, data, events_view, till_view
from cashwatch.dashboard.session import PageContext, guard_page, recheck_sign_in
from cashwatch.dashboard.widgets import plain
from cashwatch.i18n import _, format_number, ngettext

NEW_EVENTS_CHECK_S = 5.0


@st.fragment(run_every=NEW_EVENTS_CHECK_S)
def newer_events(ctx: PageContext, flt: data.EventFilter, newest: Any) -> None:
    """The list is drawn once (a redraw would disturb a clip playing below); this says
    when new events have come in since, and redraws on request."""
    recheck_sign_in(ctx)
    try:
        count = data.count_newer(ctx.data_dir, events_view.still_open(flt), newest)
    except data.HistoryUnavailable:
        return
    if count:
        st.info(
            ngettext(
                "{count} new event since this list was drawn.",
                "{count} new events since this list was drawn.",
                count,
            ).format(count=count),
            icon=":material/notifications_active:",
        )
        if st.button(_("Show them"), key="ev_show_new"):
            st.rerun()


def _linked_event() -> str | None:
    """The event an alert's link names (`/events?event=<id>`), once per session and link:
    after that the operator's own picks count."""
    linked = st.query_params.get("event")
    if not linked or st.session_state.get("ev_link_opened") == linked:
        return None
    st.session_state["ev_link_opened"] = linked
    return linked


def _pick_event(
    ctx: PageContext, events: pd.DataFrame, flt: data.EventFilter, linked: str | None
) -> str | None:
    """The events' table and the event picker under it; the id of the event picked."""
    count = len(events)
    said = (
        ngettext("{count} event (newest shown)", "{count} events (newest shown)", count)
        if count >= flt.limit
        else ngettext("{count} event", "{count} events", count)
    )
    st.caption(said.format(count=format_number(count)))
    coming = events_view.clips_coming(ctx, events)
    labels = {
        row.event_id: events_view.label(row, recording=row.event_id in coming)
        for _index, row in events.iterrows()
    }
    picked = st.dataframe(
        events_view.table(events),
        width="stretch",
        hide_index=True,
        column_config=events_view.table_columns(),
        on_select="rerun",
        selection_mode="single-row",
        key=events_view.table_key(list(labels)),
        height=min(400, 36 * (len(events) + 1) + 3),
    )
    events_view.follow_table_click(picked, list(labels))
    events_view.remember_pending(events)
    events_view.open_on(list(labels), coming)
    if linked in labels:
        st.session_state["ev_selected"] = linked
    selected = st.selectbox(
        _("Event"),
        list(labels),
        format_func=labels.__getitem__,
        key="ev_selected",
        help=_("Or click a row of the table."),
    )
    if coming:
        st.caption(
            ngettext(
                "{count} event's clip is still being recorded (marked “{mark}” in the "
                "list): pick one to watch its snapshot and a countdown until the clip "
                "appears.",
                "{count} events' clips are still being recorded (marked “{mark}” in the "
                "list): pick one to watch its snapshot and a countdown until the clip "
                "appears.",
                len(coming),
            ).format(count=len(coming), mark=_(events_view.RECORDING_MARK))
        )
    return cast(str | None, selected)


def _event_panel(ctx: PageContext, event: dict[str, Any]) -> None:
    left, right = st.columns([3, 2])
    with left:
        events_view.evidence(ctx, event)
    with right:
        till_view.till_panel(ctx, event)
        events_view.details(event)
        events_view.review_controls(ctx, event)


def render() -> None:
    ctx = guard_page("view_events")
    st.title(_("Events"))
    linked = _linked_event()
    flt = events_view.filters(ctx)
    try:
        events = data.list_events(ctx.data_dir, flt)
    except data.HistoryUnavailable as exc:
        st.info(_("No history to show: {error}").format(error=plain(exc)))
        st.stop()
    newer_events(ctx, flt, events["started_at"].max() if not events.empty else None)
    if events.empty:
        st.info(_("No events match these filters."))
        if not linked:
            st.stop()
        selected: str | None = linked
    else:
        selected = _pick_event(ctx, events, flt, linked)
    if linked and linked != selected:  # outside these filters: shown all the same
        st.caption(_("The event the alert's link names, which these filters leave out:"))
        selected = linked
    event = data.get_event(ctx.data_dir, selected) if selected else None
    if event is not None and ctx.user.sees_site(str(event.get("site"))):
        _event_panel(ctx, event)
    elif selected and selected == linked:
        st.warning(_("No event {event} that this account may see.").format(event=plain(linked)))
    if events.empty:
        st.stop()
    cols = st.columns(2)
    cols[0].altair_chart(charts.events_by_hour(events), width="stretch")
    cols[1].altair_chart(charts.events_by_camera(events), width="stretch")
