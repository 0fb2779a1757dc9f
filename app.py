"""CashWatch dashboard: `streamlit run app.py` (or `cashwatch dashboard`).

This file is the router and the Overview page. Pages an account may not open are not
even listed; each page checks the permission again when it runs.
"""

from __future__ import annotations

import streamlit as st

from cashwatch.dashboard.overview import render_overview
from cashwatch.dashboard.session import login_required, page_context
from cashwatch.dashboard.status import camera_views, read_status
from cashwatch.dashboard.widgets import sidebar_account, site_filter

REFRESH_S = 2.0
# (file, title, icon, permission)
PAGES = [
    ("pages/live.py", "Live", ":material/videocam:", "view_live"),
    ("pages/events.py", "Events", ":material/notifications:", "view_events"),
    ("pages/cameras.py", "Cameras", ":material/settings_input_antenna:", "edit_cameras"),
    ("pages/system.py", "System", ":material/monitor_heart:", "view_system"),
    ("pages/sql.py", "SQL", ":material/database:", "run_sql"),
]


def overview() -> None:
    ctx = page_context(banner=False)  # the refreshing cards draw it
    st.title("Overview")
    views = camera_views(ctx.loaded, read_status(ctx.data_dir))
    sites = site_filter(ctx, views, key="overview_sites")

    @st.fragment(run_every=REFRESH_S)
    def cards() -> None:
        render_overview(ctx, sites)

    cards()


def main() -> None:
    # not a :material/...: icon: Streamlit fetches those favicons from fonts.gstatic.com on
    # every load, and a CCTV box is often offline; an emoji is drawn by the browser itself
    st.set_page_config(page_title="CashWatch", page_icon="💵", layout="wide")
    ctx = page_context(banner=False)  # draws the login form and stops when needed
    sidebar_account(ctx, login_required(ctx.loaded.app))
    pages = [st.Page(overview, title="Overview", icon=":material/dashboard:", default=True)]
    pages += [st.Page(path, title=title, icon=icon)
              for path, title, icon, permission in PAGES if ctx.user.can(permission)]
    st.navigation(pages).run()


main()
