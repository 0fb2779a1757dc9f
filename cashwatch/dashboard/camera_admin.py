"""The Cameras page's pieces: the settings form, the source test, zones and removal."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import streamlit as st
from pydantic import ValidationError

from cashwatch.config import CameraConfig, CameraSettings, ConfigError
from cashwatch.config.loader import describe_errors
from cashwatch.dashboard import actions, zones_editor
from cashwatch.dashboard.forms import model_form
from cashwatch.dashboard.session import PageContext, PermissionDenied
from cashwatch.dashboard.source_probe import ProbeResult, SourceRefused, probe_source
from cashwatch.dashboard.status import read_frame, read_status
from cashwatch.i18n import N_, _
from cashwatch.util.redact import mask_credentials

# drawn by hand at the top of the form (who the camera is comes before how it is tuned)
FORM_SKIP = frozenset({"id", "name", "source", "zones"})
# the config's words the form shows: its sections' names and the violence methods
FORM_LABELS = {
    "detection": N_("Detection"),
    "motion": N_("Motion"),
    "cash": N_("Cash"),
    "violence": N_("Violence"),
    "fire": N_("Fire"),
    "tamper": N_("Tamper"),
    "clip": N_("Clip"),
    "verified": N_("verified"),
    "pose": N_("pose"),
    "learned": N_("learned"),
}


def _apply(
    ctx: PageContext,
    camera: dict[str, Any],
    *,
    new: bool = False,
    zones: bool = False,
) -> bool:
    """Save through the action for what the person meant: a new camera must never replace
    an existing one with the same id, so adding and editing are different actions. The
    actions check a file source's folder (SourceRefused). `zones`: what was saved is the
    camera's zones (the messages say so)."""
    if zones:
        failed = _("Zones of {camera} not saved: {error}")
        saved = _("Zones of {camera} saved; the manager applies it within seconds.")
    else:
        failed = _("Camera {camera} not saved: {error}")
        saved = _("Camera {camera} saved; the manager applies it within seconds.")
    shown = repr(camera["id"])
    try:
        (actions.add_camera if new else actions.save_camera)(ctx, camera)
    except SourceRefused as exc:
        st.error(failed.format(camera=shown, error=exc))
    except ValidationError as exc:
        st.error(failed.format(camera=shown, error=describe_errors(exc)))
    except KeyError as exc:  # removed since the page was drawn
        st.error(failed.format(camera=shown, error=exc.args[0]))
    except (ConfigError, PermissionDenied, OSError) as exc:
        st.error(failed.format(camera=shown, error=exc))
    else:
        st.success(saved.format(camera=shown))
        return True
    return False


def _title(title: str | None, name: str) -> str:
    """A config field's title in the language in effect (its name when it has none)."""
    return _(title) if title else name


def _help(description: str | None) -> str | None:
    """A config field's description in the language in effect."""
    return _(description) if description else None


def settings_form(ctx: PageContext, camera: CameraConfig | None) -> None:
    """Add (camera None) or edit a camera. An empty source keeps the current one."""
    values = camera.model_dump() if camera else CameraSettings().model_dump()
    form_key = f"camera_form_{camera.id if camera else 'new'}"
    with st.form(form_key):
        id_field = CameraConfig.model_fields["id"]
        camera_id = st.text_input(
            _title(id_field.title, "id"),
            value=camera.id if camera else "",
            disabled=camera is not None,
            help=_help(id_field.description),
            key=f"{form_key}.id",
        )
        name_field = CameraConfig.model_fields["name"]
        name = st.text_input(
            _title(name_field.title, "name"),
            value=camera.name if camera else "",
            help=_help(name_field.description),
            key=f"{form_key}.name",
        )
        source_field = CameraConfig.model_fields["source"]
        source_help = _help(source_field.description) or ""
        if camera:
            source_help += " " + _("Leave empty to keep the current source.")
        source = st.text_input(
            _title(source_field.title, "source"),
            type="password" if camera else "default",
            placeholder=mask_credentials(camera.source) if camera else "rtsp://user:pass@host/path",
            help=source_help,
            key=f"{form_key}.source",
        )
        entered = model_form(CameraConfig, values, form_key, skip=FORM_SKIP, labels=FORM_LABELS)
        submitted = st.form_submit_button(_("Save camera"), type="primary")
    if submitted:
        entered.update(
            id=camera.id if camera else camera_id.strip(),
            name=name.strip(),
            source=source.strip() or (camera.source if camera else ""),
            zones=camera.zones.model_dump() if camera else {},
        )
        _apply(ctx, entered, new=camera is None)


def source_test(ctx: PageContext, camera: CameraConfig) -> None:
    if st.button(_("Test source"), key=f"probe_{camera.id}"):
        try:
            # the server opens it with its own rights: only for who may edit this camera
            ctx.require("edit_cameras", site=camera.site)
        except PermissionDenied as exc:
            st.session_state.pop(f"probe_{camera.id}_result", None)
            st.error(_("Not tested: {error}").format(error=exc))
            return
        with st.spinner(_("Opening the source…")):
            st.session_state[f"probe_{camera.id}_result"] = probe_source(
                camera.source, ctx.loaded, camera.open_timeout_s, camera.read_timeout_s
            )
    result: ProbeResult | None = st.session_state.get(f"probe_{camera.id}_result")
    if result is None:
        return
    if result.frame is not None:
        st.success(result.message)
        st.image(result.frame, channels="BGR", width=480)
    else:
        st.error(result.message)


def background_frame(ctx: PageContext, camera: CameraConfig) -> np.ndarray:
    """The camera's live frame, else the last source test's frame, else a grey canvas."""
    status = read_status(ctx.data_dir)
    record = status.records.get(camera.id) if status.manager_running else None
    if record is not None:
        frame = read_frame(ctx.data_dir, record["slot"])
        if frame is not None:
            return frame.image
    probe = st.session_state.get(f"probe_{camera.id}_result")
    if probe is not None and probe.ok:
        return cast(np.ndarray, probe.frame)
    st.caption(_("No frame available: start the camera or test its source to draw on its image."))
    return np.full((360, 640, 3), 64, np.uint8)


def zones_section(ctx: PageContext, camera: CameraConfig) -> None:
    key = zones_editor.points_key(camera.id)
    if key not in st.session_state:
        st.session_state[key] = {
            name: [list(p) for p in (getattr(camera.zones, name) or [])]
            for name in zones_editor.ZONE_NAMES
        }
    zones = zones_editor.editor(camera.id, background_frame(ctx, camera))
    if st.button(_("Save zones"), key=f"{key}_save", type="primary"):
        short = [name for name, pts in zones.items() if 0 < len(pts) < 3]
        if short:
            named = ", ".join(zones_editor.zone_label(name) for name in short)
            st.error(_("Zones need at least 3 points: {zones}").format(zones=named))
            return
        entry = camera.model_dump()
        entry["zones"] = {name: pts or None for name, pts in zones.items()}
        _apply(ctx, entry, zones=True)


def removal(ctx: PageContext, camera: CameraConfig) -> None:
    confirm = st.checkbox(
        _("Yes, remove {camera} from the config").format(camera=camera.id),
        key=f"rm_ok_{camera.id}",
    )
    if st.button(_("Remove camera"), key=f"rm_{camera.id}", disabled=not confirm):
        try:
            actions.remove_camera(ctx, camera.id)
        except (ConfigError, PermissionDenied, KeyError, OSError) as exc:
            st.error(_("Not removed: {error}").format(error=exc))
        else:
            st.session_state.pop(zones_editor.points_key(camera.id), None)
            st.success(_("Removed {camera}; its history stays browsable.").format(camera=camera.id))
            st.rerun()
