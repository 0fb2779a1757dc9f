"""The Live page: the latest frame of each watched camera, ~5 times a second."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from cashwatch.config import CameraConfig
from cashwatch.dashboard.live import annotate, grey_out, to_jpeg
from cashwatch.dashboard.session import PageContext, guard_page, recheck_sign_in
from cashwatch.dashboard.status import read_frame, read_status
from cashwatch.dashboard.widgets import manager_banner, plain, source_hidden, state_label
from cashwatch.i18n import _
from cashwatch.util.redact import mask_credentials

REFRESH_S = 0.2
COLUMNS = 2
SHOWN_AT_FIRST = 4
# A running camera whose newest frame is older than this has stalled (a live one is
# ~0.1 s old); the operator must see that, not a still picture that looks live.
STALE_S = 3.0


@dataclass(frozen=True)
class LiveChoice:
    """What the grid shows: the cameras the account sees, those picked, and whether to
    overlay detections."""

    ctx: PageContext
    cameras: dict[str, CameraConfig]
    watched: list[str]
    overlay: bool


def _stale_after(ctx: PageContext, record: dict[str, Any] | None) -> float:
    """STALE_S, or three of the camera's own live-frame intervals if that is longer (a
    slow camera publishing every Nth frame is not stalled)."""
    fps = float((record or {}).get("camera_fps") or 0.0)
    interval = ctx.loaded.app.manager.live_every_n / fps if fps > 0 else 0.0
    return max(STALE_S, 3 * interval)


def camera_tile(choice: LiveChoice, camera_id: str, record: dict[str, Any] | None) -> None:
    ctx, camera, overlay = choice.ctx, choice.cameras[camera_id], choice.overlay
    title = plain(camera.display_name)
    state = record["state"] if record else "not running"
    frame = read_frame(ctx.data_dir, record["slot"]) if record else None
    # the error often quotes the source: masked always, for admins only at all
    masked = mask_credentials(str(record.get("last_error") or "")) if record else ""
    problem = plain(source_hidden(ctx, masked, mask_credentials(camera.source), camera.source))
    if frame is None:
        if state == "error":
            st.error(
                _("{camera}: error, no live frame. {problem}").format(camera=title, problem=problem)
            )
        else:
            st.info(
                _("{camera}: no live frame ({state}).").format(
                    camera=title, state=state_label(state)
                )
            )
        return
    live = state == "running"
    image = annotate(
        frame.image, frame.boxes if overlay else None, camera.zones if overlay else None
    )
    # JPEG for the watched cameras only: encoding is the costly part at 5 fps
    st.image(
        to_jpeg(image if live else grey_out(image)),
        width="stretch",
        caption=_("{camera} · frame {frame} · {age} s old").format(
            camera=title, frame=frame.frame_no, age=f"{frame.age_s:.1f}"
        ),
    )
    if not live:
        st.error(
            _("{camera}: {state}, last frame {age} s ago. {problem}").format(
                camera=title,
                state=state_label(state).upper(),
                age=f"{frame.age_s:.0f}",
                problem=problem,
            )
        )
    elif frame.age_s > _stale_after(ctx, record):
        st.warning(
            _("{camera}: no new frame for {age} s; the stream may have stalled.").format(
                camera=title, age=f"{frame.age_s:.0f}"
            )
        )


@st.fragment(run_every=REFRESH_S)
def grid(choice: LiveChoice) -> None:
    ctx = choice.ctx
    recheck_sign_in(ctx)
    status = read_status(ctx.data_dir)
    manager_banner(status, ctx.loaded, detail=not ctx.user.limited_to_sites)
    if not choice.watched:
        st.info(_("Choose cameras to watch."))
        return
    columns = st.columns(COLUMNS)
    for index, camera_id in enumerate(choice.watched):
        with columns[index % COLUMNS]:
            camera_tile(
                choice, camera_id, status.records.get(camera_id) if status.manager_running else None
            )


def render() -> None:
    ctx = guard_page("view_live")
    st.title(_("Live"))
    cameras = {c.id: c for c in ctx.loaded.app.cameras if ctx.user.sees_site(c.site)}
    watched = st.multiselect(
        _("Cameras to watch"),
        list(cameras),
        default=list(cameras)[:SHOWN_AT_FIRST],
        format_func=lambda cid: f"{cameras[cid].display_name} ({cid})",
    )
    if len(watched) < len(cameras):
        st.caption(
            _("Watching {watched} of {total} cameras; add others above.").format(
                watched=len(watched), total=len(cameras)
            )
        )
    overlay = st.toggle(_("Overlay detections and zones"), value=True)
    grid(LiveChoice(ctx, cameras, watched, overlay))
