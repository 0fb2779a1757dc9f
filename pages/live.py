"""Live: the latest frame of each watched camera, ~5 times a second."""

from __future__ import annotations

import streamlit as st

from cashwatch.dashboard.live import annotate, to_jpeg
from cashwatch.dashboard.session import guard_page
from cashwatch.dashboard.status import read_frame, read_status
from cashwatch.dashboard.widgets import manager_banner

REFRESH_S = 0.2
COLUMNS = 2

ctx = guard_page("view_live")
st.title("Live")
cameras = {c.id: c for c in ctx.loaded.app.cameras if ctx.user.sees_site(c.site)}
watched = st.multiselect("Cameras to watch", list(cameras), default=list(cameras)[:4],
                         format_func=lambda cid: f"{cameras[cid].display_name} ({cid})")
overlay = st.toggle("Overlay detections and zones", value=True)


@st.fragment(run_every=REFRESH_S)
def grid() -> None:
    status = read_status(ctx.data_dir)
    manager_banner(status, ctx.loaded, detail=not ctx.user.limited_to_sites)
    if not watched:
        st.info("Choose cameras to watch.")
        return
    columns = st.columns(COLUMNS)
    for index, camera_id in enumerate(watched):
        with columns[index % COLUMNS]:
            record = status.records.get(camera_id) if status.manager_running else None
            frame = read_frame(ctx.data_dir, record["slot"]) if record else None
            title = cameras[camera_id].display_name
            if frame is None:
                state = record["state"] if record else "not running"
                st.info(f"{title}: no live frame ({state}).")
                continue
            image = annotate(frame.image, frame.boxes if overlay else None,
                             cameras[camera_id].zones if overlay else None)
            # JPEG for the watched cameras only: encoding is the costly part at 5 fps
            st.image(to_jpeg(image), width="stretch",
                     caption=f"{title} · frame {frame.frame_no} · {frame.age_s:.1f} s old")


grid()
