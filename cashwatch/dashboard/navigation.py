"""The dashboard's router: page config, the account sidebar and the pages an account may open.

Pages an account may not open are not even listed; each page checks the permission again
when it runs.
"""

from __future__ import annotations

import streamlit as st

from cashwatch.dashboard import language
from cashwatch.dashboard.session import login_required, page_context
from cashwatch.dashboard.views import overview
from cashwatch.dashboard.widgets import sidebar_account
from cashwatch.i18n import N_, _

# (file, title, icon, permission); files are relative to app.py, which Streamlit resolves
# them against, so the pages' URLs stay /live, /events, ... (a title translated where
# shown; SQL is SQL in every language)
PAGES = [
    ("pages/live.py", N_("Live"), ":material/videocam:", "view_live"),
    ("pages/events.py", N_("Events"), ":material/notifications:", "view_events"),
    ("pages/cameras.py", N_("Cameras"), ":material/settings_input_antenna:", "edit_cameras"),
    ("pages/system.py", N_("System"), ":material/monitor_heart:", "view_system"),
    ("pages/sql.py", "SQL", ":material/database:", "run_sql"),
]


def run() -> None:
    # not a :material/...: icon: Streamlit fetches those favicons from fonts.gstatic.com on
    # every load, and a CCTV box is often offline; an emoji is drawn by the browser itself
    st.set_page_config(page_title="CashWatch", page_icon="💵", layout="wide")
    ctx = page_context(banner=False)  # draws the login form and stops when needed
    sidebar_account(ctx, login_required(ctx.loaded.app))
    language.picker(ctx.loaded, ctx.user)
    # url_path: a page's identity (its script hash) comes from it, and it was inferred
    # from the function's name, `overview`, when the function lived in app.py
    pages = [
        st.Page(
            overview.render,
            title=_("Overview"),
            icon=":material/dashboard:",
            url_path="overview",
            default=True,
        )
    ]
    pages += [
        st.Page(path, title=_(title), icon=icon)
        for path, title, icon, permission in PAGES
        if ctx.user.can(permission)
    ]
    st.navigation(pages).run()
