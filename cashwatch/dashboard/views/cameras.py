"""The Cameras page (admins): add, edit and remove cameras, test sources, draw zones."""

from __future__ import annotations

import streamlit as st

from cashwatch.config import CameraConfig
from cashwatch.dashboard import camera_admin
from cashwatch.dashboard.session import PageContext, guard_page
from cashwatch.dashboard.widgets import plain
from cashwatch.i18n import N_, _
from cashwatch.util.redact import mask_credentials

NEW = N_("+ New camera")  # the choice's value; shown as _(NEW)


def _rejected_entries(ctx: PageContext) -> None:
    for camera_id, error in ctx.loaded.camera_errors.items():
        # an entry of another site is none of a site-limited admin's business; a source URL
        # in the message may carry a password
        if ctx.user.sees_site(ctx.loaded.camera_error_sites.get(camera_id, "")):
            st.error(
                _("Config entry {camera} is rejected and not running: {error}").format(
                    camera=plain(camera_id), error=plain(mask_credentials(error))
                )
            )


def _camera_tabs(ctx: PageContext, camera: CameraConfig) -> None:
    settings, zones, remove = st.tabs([_("Settings"), _("Zones"), _("Remove")])
    with settings:
        camera_admin.source_test(ctx, camera)
        camera_admin.settings_form(ctx, camera)
    with zones:
        camera_admin.zones_section(ctx, camera)
    with remove:
        camera_admin.removal(ctx, camera)


def render() -> None:
    ctx = guard_page("edit_cameras")
    st.title(_("Cameras"))
    if ctx.config_error:
        # The forms would show the last config that loaded, not the file being edited:
        # saving one would drop or overwrite the change in progress there (the actions
        # refuse too).
        st.warning(
            _(
                "Cameras cannot be changed here while the config file does not load (see "
                "above): saving would overwrite the edit in progress there. Fix the file, "
                "then reload this page."
            ),
            icon=":material/edit_off:",
        )
        st.stop()
    cameras = {c.id: c for c in ctx.loaded.app.cameras if ctx.user.sees_site(c.site)}
    _rejected_entries(ctx)
    choice = st.selectbox(
        _("Camera"),
        [NEW, *cameras],
        key="cam_choice",
        format_func=lambda c: _(NEW) if c == NEW else f"{cameras[c].display_name} ({c})",
    )
    camera = cameras.get(choice)
    if camera is None:
        camera_admin.settings_form(ctx, None)
    else:
        _camera_tabs(ctx, camera)
