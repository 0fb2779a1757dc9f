"""Everything the dashboard changes, each checked against the account first.

The checks live here, in the handlers, so an action is refused even when a request
reaches the server for a button the page never drew for this account. Each handler
first takes the account and the config as they are now (`acting_context`), not as they
were when the button was drawn: a signed-out, removed or demoted account is refused.
"""

from __future__ import annotations

import time
from typing import Any

from cashwatch.alerts.state import SUSPEND_MAX_S, SUSPEND_MIN_S
from cashwatch.config import edit
from cashwatch.config.camera import source_kind
from cashwatch.dashboard import data
from cashwatch.dashboard.session import PageContext, PermissionDenied, acting_context
from cashwatch.dashboard.source_probe import check_source
from cashwatch.i18n import _
from cashwatch.manager.requests import submit_request


def _site_of(ctx: PageContext, camera_id: str) -> str:
    return ctx.loaded.camera(camera_id).site


def set_enabled(ctx: PageContext, camera_id: str, enabled: bool) -> None:
    """Start (enabled) or stop a camera: the manager follows the config."""
    ctx = acting_context(ctx)
    ctx.require("control_cameras", _site_of(ctx, camera_id))
    ctx.require_loadable_config()
    edit.set_camera_enabled(ctx.loaded.path, camera_id, enabled)


def restart(ctx: PageContext, camera_id: str) -> None:
    ctx = acting_context(ctx)
    ctx.require("control_cameras", _site_of(ctx, camera_id))
    submit_request(ctx.data_dir, "restart", camera_id)


def suspend_alerts(ctx: PageContext, camera_id: str, for_s: float) -> None:
    """No alerts for the camera for `for_s` seconds; 0 lifts a suspension. The manager
    takes the request on its next loop (a later one replaces an earlier one)."""
    ctx = acting_context(ctx)
    ctx.require("control_cameras", _site_of(ctx, camera_id))
    if for_s and not SUSPEND_MIN_S <= for_s <= SUSPEND_MAX_S:
        raise ValueError(
            _("suspend alerts for 1 minute to 24 hours, not {seconds} s").format(
                seconds=f"{for_s:.0f}"
            )
        )
    submit_request(ctx.data_dir, "suspend_alerts", camera_id, until=time.time() + for_s)


def set_enabled_all(ctx: PageContext, camera_ids: list[str], enabled: bool) -> list[str]:
    """Start or stop several cameras; returns those changed."""
    ctx = acting_context(ctx)
    changed = []
    for camera_id in camera_ids:
        if ctx.loaded.camera(camera_id).enabled != enabled:
            set_enabled(ctx, camera_id, enabled)
            changed.append(camera_id)
    return changed


def review(ctx: PageContext, event: dict[str, Any], status: str, notes: str | None) -> None:
    ctx = acting_context(ctx)
    ctx.require("review_events", str(event.get("site")))
    data.submit_review(
        ctx.data_dir, str(event["event_id"]), status, notes, reviewed_by=ctx.user.name
    )


def add_camera(ctx: PageContext, camera: dict[str, Any]) -> None:
    """A new camera; an id already in the file is refused, never replaced."""
    ctx = acting_context(ctx)
    ctx.require("edit_cameras", str(camera.get("site", "default")))
    ctx.require_loadable_config()
    _check_file_source(ctx, camera, current=None)
    edit.add_camera(ctx.loaded.path, camera)


def save_camera(ctx: PageContext, camera: dict[str, Any]) -> None:
    """Changed settings of an existing camera (refused if it was removed meanwhile)."""
    ctx = acting_context(ctx)
    ctx.require("edit_cameras", str(camera.get("site", "default")))
    ctx.require("edit_cameras", _site_of(ctx, str(camera.get("id"))))  # not another site's
    ctx.require_loadable_config()
    _check_file_source(ctx, camera, current=ctx.loaded.camera(str(camera.get("id"))).source)
    edit.update_camera(ctx.loaded.path, camera)


def _check_file_source(ctx: PageContext, camera: dict[str, Any], current: str | None) -> None:
    """A video file only from the folders "Test source" may open (SourceRefused, naming
    them): a camera whose source is another site's snapshot would show that evidence on
    the Live page. URLs are checked when tested, not here: a camera may be offline or
    unresolvable while it is set up. An unchanged source is not re-judged: it was put in
    the file by its writer, maybe before the folders were narrowed."""
    source = str(camera.get("source", "")).strip()
    if source_kind(source) == "file" and source != (current or "").strip():
        check_source(source, ctx.loaded)


def remove_camera(ctx: PageContext, camera_id: str) -> None:
    ctx = acting_context(ctx)
    ctx.require("edit_cameras", _site_of(ctx, camera_id))
    ctx.require_loadable_config()
    edit.remove_camera(ctx.loaded.path, camera_id)


__all__ = [
    "PermissionDenied",
    "add_camera",
    "remove_camera",
    "restart",
    "review",
    "save_camera",
    "set_enabled",
    "set_enabled_all",
    "suspend_alerts",
]
