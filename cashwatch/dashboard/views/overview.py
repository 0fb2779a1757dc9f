"""The Overview page: a card per camera, refreshed every few seconds."""

from __future__ import annotations

import streamlit as st

from cashwatch.dashboard.overview import render_overview
from cashwatch.dashboard.session import page_context
from cashwatch.dashboard.status import camera_views, read_status
from cashwatch.dashboard.widgets import site_filter
from cashwatch.i18n import _

REFRESH_S = 2.0


def render() -> None:
    ctx = page_context(banner=False)  # the refreshing cards draw it
    st.title(_("Overview"))
    views = camera_views(ctx.loaded, read_status(ctx.data_dir))
    sites = site_filter(ctx, views, key="overview_sites")

    @st.fragment(run_every=REFRESH_S)
    def cards() -> None:
        render_overview(ctx, sites)

    cards()
