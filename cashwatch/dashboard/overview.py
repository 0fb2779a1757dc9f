"""The overview: one card per camera with its numbers and its controls."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from cashwatch.alerts.state import read_suspended
from cashwatch.config import ConfigError
from cashwatch.core.event_types import event_type
from cashwatch.dashboard import actions, data
from cashwatch.dashboard.alerts_view import SUSPEND_CHOICES, suspended_text
from cashwatch.dashboard.session import (
    PageContext,
    PermissionDenied,
    config_banner,
    fresh_context,
    recheck_sign_in,
)
from cashwatch.dashboard.status import CameraView, LiveStatus, camera_views, read_status
from cashwatch.dashboard.widgets import (
    SOUND_KEY,
    manager_banner,
    plain,
    sees_sources,
    source_hidden,
    state_label,
    status_badge,
    uptime,
    visible,
)
from cashwatch.i18n import N_, _, format_number, format_time, ngettext
from cashwatch.util.redact import mask_credentials

_FLASH_KEY = "overview_flash"
# Cameras in these states come first, their error at the top of the card
TROUBLE = ("error", "reconnecting", "connecting", "not running")
# Two cards side by side on a 1280 px laptop screen (beside the sidebar), six numbers
# in two rows of three each
CARD_WIDTH_PX = 380
# An event type's short word in sentences and badges ("New cash event on cam-a"): in
# English the type as stored; its people-name (`EventTypeInfo.label`) is longer
TYPE_WORDS = {
    "cash": N_("cash"),
    "violence": N_("violence"),
    "fire": N_("fire"),
    "tamper": N_("tamper"),
    "till_exception": N_("till_exception"),
}


def type_word(event_type_name: str) -> str:
    """The short word for an event type in the language in effect (an unknown type as
    it is stored)."""
    word = TYPE_WORDS.get(event_type_name)
    return _(word) if word is not None else event_type_name


def do_action(ctx: PageContext, label: str, action: Callable[..., Any], *args: Any) -> None:
    """Run an action from a button callback; its outcome is shown on the next draw. The
    action checks the account as it is now (`actions`), not the `ctx` drawn with."""
    try:
        action(ctx, *args)
        st.session_state[_FLASH_KEY] = ("success", _("{action}: done").format(action=label))
    except PermissionDenied as exc:
        message = _("{action} refused: {error}").format(action=label, error=exc)
        st.session_state[_FLASH_KEY] = ("error", message)
    except (ConfigError, ValidationError, KeyError, ValueError, OSError) as exc:
        message = _("{action} failed: {error}").format(action=label, error=exc)
        st.session_state[_FLASH_KEY] = ("error", message)


def _flash() -> None:
    kind, message = st.session_state.pop(_FLASH_KEY, (None, None))
    if kind == "success":
        st.success(plain(message))
    elif kind == "error":
        st.error(plain(message))


def _numbers(view: CameraView, today: dict[str, int] | None) -> None:
    """The card's numbers, each as wide as its text: they wrap onto another line where the
    card is narrow (a laptop), instead of being cut to "2,7…" in a fixed column."""
    rec = view.record or {}
    with st.container(horizontal=True, gap="medium", key=f"numbers_{view.camera_id}"):
        for label, value, help_text in card_numbers(rec, view.camera_id, today):
            st.metric(label, value, help=help_text, width="content")
    core = rec.get("core", -1)
    st.caption(
        _(
            "Node {node} · Core {core} · CPU {cpu} % · {memory} MiB · "
            "restarts {restarts} · reconnects {reconnects}"
        ).format(
            node=plain(rec.get("node") or "–"),
            core=core if core is not None and core >= 0 else "–",
            cpu=f"{rec.get('cpu_percent', 0.0):.0f}",
            memory=f"{rec.get('rss_mib', 0.0):.0f}",
            restarts=rec.get("restarts", 0),
            reconnects=rec.get("reconnects", 0),
        )
    )


def card_numbers(
    rec: dict[str, Any], camera_id: str, today: dict[str, int] | None
) -> list[tuple[str, str, str | None]]:
    """(label, value, help) of each number on a camera's card; long counts compact
    (2.73M), the exact figure in the help.

    >>> [v for _, v, _ in card_numbers({"frames_processed": 2734112, "camera_fps": 15},
    ...                               "cam", {"cam": 3})]
    ['15.0', '0.0', '0.0', '2.73M', '3', '–']
    """
    frames = int(rec.get("frames_processed", 0) or 0)
    return [
        (_("Camera fps"), f"{rec.get('camera_fps', 0.0):.1f}", None),
        (_("Process fps"), f"{rec.get('process_fps', 0.0):.1f}", None),
        (
            _("Detect fps"),
            f"{rec.get('detection_fps', 0.0):.1f}",
            _(
                "Frames the pose model looked at per second. Near 0 is normal while nothing "
                "moves: the motion gate skips still frames."
            ),
        ),
        (
            _("Frames"),
            compact_count(frames),
            _("{frames} frames processed since the worker started.").format(
                frames=format_number(frames)
            ),
        ),
        (_("Events today"), "–" if today is None else str(today.get(camera_id, 0)), None),
        (_("Uptime"), uptime(rec or None), _("How long the camera's worker has run.")),
    ]


def compact_count(count: float) -> str:
    """A count an operator reads at a glance: three digits and a unit.

    >>> [compact_count(n) for n in (0, 999, 1234, 27345, 999_999, 2_734_112, 1.5e9)]
    ['0', '999', '1.23k', '27.3k', '1.00M', '2.73M', '1.50G']
    """
    count = int(count)
    if abs(count) < 1000:
        return str(count)
    for unit, size in (("k", 1e3), ("M", 1e6), ("G", 1e9)):
        scaled = abs(count) / size
        # 999,999 is "1.00M", not "1000k": the unit goes up once the digits round to 1000
        if scaled < 999.5 or unit == "G":
            digits = 2 if scaled < 9.995 else 1 if scaled < 99.95 else 0
            return f"{'-' if count < 0 else ''}{scaled:.{digits}f}{unit}"
    raise AssertionError("unreachable: G takes any size")


def _controls(ctx: PageContext, view: CameraView) -> None:
    if not ctx.user.can("control_cameras") or view.config is None:
        return
    cols = st.columns(3)
    cid = view.camera_id
    cols[0].button(
        _("Start"),
        key=f"start_{cid}",
        disabled=view.enabled,
        on_click=do_action,
        args=(ctx, _("Start {camera}").format(camera=cid), actions.set_enabled, cid, True),
    )
    cols[1].button(
        _("Stop"),
        key=f"stop_{cid}",
        disabled=not view.enabled,
        on_click=do_action,
        args=(ctx, _("Stop {camera}").format(camera=cid), actions.set_enabled, cid, False),
    )
    cols[2].button(
        _("Restart"),
        key=f"restart_{cid}",
        disabled=not view.enabled,
        on_click=do_action,
        args=(ctx, _("Restart {camera}").format(camera=cid), actions.restart, cid),
    )


def _alert_suspension(ctx: PageContext, view: CameraView, until: float | None) -> None:
    """Whether the camera's alerts are suspended (for all who see the card) and, for
    those who may control it, how long to suspend them for, or to resume them."""
    if until is not None:
        st.caption(f":material/notifications_off: {plain(suspended_text(until))}")
    # without a target there is nothing to silence: no control to puzzle over
    if not ctx.user.can("control_cameras") or view.config is None or not ctx.loaded.app.alerts:
        return
    cid = view.camera_id
    cols = st.columns([3, 2], vertical_alignment="bottom")
    cols[0].selectbox(
        _("Suspend alerts for"),
        list(SUSPEND_CHOICES),
        index=2,  # 30 min: a drill, a delivery, a cleaner at the till
        key=f"suspend_for_{cid}",
        # the choice stays the table's key; its words are translated where shown
        format_func=_,
        label_visibility="collapsed",
    )
    cols[1].button(
        _("Suspend alerts"),
        key=f"suspend_alerts_{cid}",
        on_click=do_action,
        args=(ctx, _("Suspend alerts of {camera}").format(camera=cid), _suspend_chosen, cid),
    )
    if until is not None:
        st.button(
            _("Resume alerts"),
            key=f"resume_alerts_{cid}",
            on_click=do_action,
            args=(
                ctx,
                _("Resume alerts of {camera}").format(camera=cid),
                actions.suspend_alerts,
                cid,
                0.0,
            ),
        )


def _suspend_chosen(ctx: PageContext, camera_id: str) -> None:
    # the choice as it is at the click, not as it was when the button was drawn
    choice = st.session_state.get(f"suspend_for_{camera_id}") or "30 min"
    actions.suspend_alerts(ctx, camera_id, SUSPEND_CHOICES[choice])


def tampered(view: CameraView) -> bool:
    """Running, but its view covered, blurred or turned away (an open tamper event)."""
    record = view.record or {}
    # the source's own trouble comes first on the card, as in `last_error`
    return (
        view.state == "running"
        and bool(record.get("tamper_reason"))
        and not record.get("source_error")
    )


def camera_card(
    ctx: PageContext,
    view: CameraView,
    today: dict[str, int] | None,
    alerts_until: float | None = None,
) -> None:
    """A camera's card; `alerts_until`: until when its alerts are suspended, if they are."""
    with st.container(border=True, key=f"card_{view.camera_id}", width=CARD_WIDTH_PX):
        head = st.columns([3, 1])
        head[0].markdown(f"**{plain(view.name)}**  \n{plain(view.camera_id)} · {plain(view.site)}")
        with head[1]:
            status_badge(view.state)
        if view.config_error:
            st.error(
                _("Config entry rejected: {error}").format(
                    error=plain(_error_text(ctx, view, view.config_error))
                )
            )
            return
        # the problem first, where the eye lands, not under the numbers
        last_error = _error_text(ctx, view, str((view.record or {}).get("last_error") or ""))
        if last_error and view.state in TROUBLE:
            st.error(_("Last error: {error}").format(error=plain(last_error)))
        elif tampered(view):
            st.warning(plain(last_error.capitalize()), icon=":material/videocam_off:")
        if sees_sources(ctx):  # an address, a path, a stream name: for admins only
            st.caption(plain(view.source))
        _numbers(view, today)
        if last_error and view.state not in TROUBLE and not tampered(view):
            st.caption(_("Last error: {error}").format(error=plain(last_error)))
        _controls(ctx, view)
        _alert_suspension(ctx, view, alerts_until)


def _error_text(ctx: PageContext, view: CameraView, error: str) -> str:
    """A camera's error as this account may read it: credentials masked always, the
    source itself (often quoted in the error) only for admins."""
    raw = view.config.source if view.config is not None else ""
    return source_hidden(ctx, mask_credentials(error), view.source, raw)


def _bulk_controls(ctx: PageContext, views: list[CameraView]) -> None:
    ids = [v.camera_id for v in views if v.config is not None]
    if not ctx.user.can("control_cameras") or not ids:
        return
    cols = st.columns([1, 1, 1, 3])
    cols[0].button(
        _("Start all"),
        key="start_all",
        on_click=do_action,
        args=(ctx, _("Start all"), actions.set_enabled_all, ids, True),
    )
    cols[1].button(
        _("Stop all"),
        key="stop_all",
        on_click=do_action,
        args=(ctx, _("Stop all"), actions.set_enabled_all, ids, False),
    )
    running = [v.camera_id for v in views if v.enabled and v.config is not None]
    cols[2].button(
        _("Restart all"),
        key="restart_all",
        disabled=not running,
        on_click=do_action,
        args=(ctx, _("Restart all"), _restart_all, running),
    )


def _restart_all(ctx: PageContext, camera_ids: list[str]) -> None:
    for camera_id in camera_ids:
        actions.restart(ctx, camera_id)


def _events_today(ctx: PageContext) -> dict[str, int] | None:
    try:
        return data.events_today(ctx.data_dir)
    except data.HistoryUnavailable:
        return None


_SEEN_KEY = "overview_newest_seen"
# A camera that was running and is now in one of these states lost its picture (a pulled
# cable, a switched-off camera, a crash): at a till that can come before a theft.
LOST = ("error", "reconnecting", "not running")
LOST_BEEPS = 2
_RUNNING_KEY = "overview_running"  # the cameras running at the last refresh
REVIEW_TILES = 6


def awaiting_review(ctx: PageContext, sites: list[str]) -> None:
    """What an operator must not miss: the unreviewed events of the last day (hand-overs
    with no sale rung up first, then the newest) with their snapshots, and a toast for
    each one that arrived since the last refresh (none for what was there when the page
    opened)."""
    if not ctx.user.can("view_events"):
        return
    # no site chosen means all sites: for an account limited to some, all of *its* sites
    chosen = sites or list(ctx.user.sites)
    try:
        total, newest = data.awaiting_review(ctx.data_dir, chosen, limit=REVIEW_TILES)
    except data.HistoryUnavailable:
        return
    _toast_new(newest)
    if not total:
        st.caption(_("No event waiting for review in the last 24 hours."))
        return
    st.subheader(
        ngettext(
            "{count} event waiting for review (last 24 h)",
            "{count} events waiting for review (last 24 h)",
            total,
        ).format(count=total)
    )
    # always six narrow tiles, however many: thumbnails, not pictures that push the
    # camera cards off the screen
    columns = st.columns(REVIEW_TILES)
    for column, event in zip(columns, newest.to_dict("records"), strict=False):
        with column:
            _event_tile(ctx, event)
    st.page_link(
        "pages/events.py",
        label=_("Review them on the Events page"),
        icon=":material/notifications:",
    )


def _event_tile(ctx: PageContext, event: dict[str, Any]) -> None:
    kind = event_type(str(event["event_type"]))
    st.badge(plain(type_word(kind.name)), icon=kind.icon, color=kind.badge)
    if event.get("till_match") == "unmatched":  # shown first: docs/till.md
        st.badge(_("No sale rung up"), icon=":material/money_off:", color="red")
    snapshot = data.evidence_file(ctx.data_dir, event.get("snapshot_path"))
    if snapshot is not None:
        st.image(snapshot if isinstance(snapshot, bytes) else str(snapshot), width="stretch")
    when = format_time(
        pd.Timestamp(event["started_at"])
        .tz_convert(dt.datetime.now().astimezone().tzinfo)
        .to_pydatetime()
    )
    st.caption(f"{plain(event['camera_id'])} · {when} · {float(event['confidence']):.2f}")


def _toast_new(newest: pd.DataFrame) -> None:
    """Toast what arrived in the database since the last look (a high-water mark on the
    time a row was stored): an older event that moves into the list because newer ones
    were reviewed is not new."""
    arrived = pd.to_datetime(newest["arrived"], utc=True)
    mark: pd.Timestamp | None = st.session_state.get(_SEEN_KEY)
    if mark is not None:
        new = newest[arrived > mark]
        for event in new.head(3).to_dict("records"):
            st.toast(
                _("New {event_type} event on {camera}").format(
                    event_type=plain(type_word(str(event["event_type"]))),
                    camera=plain(event["camera_id"]),
                ),
                icon=event_type(str(event["event_type"])).icon,
            )
        if not new.empty:
            _beep(
                max(event_type(str(t)).alert_beeps for t in new["event_type"]),
                key=str(new["event_id"].iloc[0]),
            )
    latest = arrived.max() if not arrived.empty else None
    if mark is None or (latest is not None and latest > mark):
        st.session_state[_SEEN_KEY] = latest if latest is not None else pd.Timestamp.now(tz="UTC")


def announce_lost_cameras(views: list[CameraView]) -> None:
    """A toast (and a beep when the sound is on) for each camera that was running at the
    last refresh and has lost its picture since; none for what was down when the page
    opened, nor for a camera someone stopped."""
    seen: set[str] | None = st.session_state.get(_RUNNING_KEY)
    st.session_state[_RUNNING_KEY] = {v.camera_id for v in views if v.state == "running"}
    if seen is None:
        return
    lost = [v for v in views if v.camera_id in seen and v.state in LOST]
    for view in lost[:3]:
        st.toast(
            _("Camera {name} ({camera}) lost its picture: {state}").format(
                name=plain(view.name), camera=plain(view.camera_id), state=state_label(view.state)
            ),
            icon=":material/videocam_off:",
        )
    if len(lost) > 3:
        st.toast(
            _("… and {count} more cameras").format(count=len(lost) - 3),
            icon=":material/videocam_off:",
        )
    if lost:
        _beep(LOST_BEEPS, key="lost-" + "-".join(v.camera_id for v in lost))


def _beep(beeps: int, key: str) -> None:
    """Beep in this tab when its sound is switched on (the sidebar's button)."""
    if st.session_state.get(SOUND_KEY):
        st.html(alert_script(beeps, key), unsafe_allow_javascript=True)


def alert_script(beeps: int, key: str) -> str:
    """A page script that beeps `beeps` times (Web Audio: no sound file to serve).

    Browsers let a page make sound once the user has clicked on it; switching the sound
    on is such a click. `key` makes each alert's script differ, so each one runs. One
    audio context serves every alert of the tab (browsers limit how many a page opens).
    """
    return f"""<script data-alert="{html.escape(key, quote=True)}">(() => {{
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  const audio = window.cashwatchAudio = window.cashwatchAudio || new Ctx();
  audio.resume();
  for (let i = 0; i < {int(beeps)}; i++) {{
    const tone = audio.createOscillator(), gain = audio.createGain();
    const start = audio.currentTime + i * 0.35;
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.3, start);
    gain.gain.exponentialRampToValueAtTime(0.001, start + 0.3);
    tone.connect(gain).connect(audio.destination);
    tone.start(start);
    tone.stop(start + 0.3);
  }}
}})();</script>"""


def render_overview(ctx: PageContext, sites: list[str]) -> LiveStatus:
    """The cards (drawn inside the caller's refreshing fragment).

    The config is re-read on every refresh, so this draws the broken-config banner (the
    page does not): it appears and goes with the file without a full rerun.
    """
    recheck_sign_in(ctx)  # a demoted account's page is drawn again, with its new rights
    ctx = fresh_context(ctx)
    detail = not ctx.user.limited_to_sites
    if ctx.config_error:
        config_banner(ctx.config_error, detail=detail)
    status = read_status(ctx.data_dir)
    manager_banner(status, ctx.loaded, detail=detail)
    _flash()
    views = sorted(
        visible(ctx, camera_views(ctx.loaded, status), sites),
        key=lambda v: v.state not in TROUBLE and not v.config_error and not tampered(v),
    )
    announce_lost_cameras(views)
    if not views:
        st.info(_("No cameras to show. Admins add cameras on the Cameras page."))
        return status
    awaiting_review(ctx, sites)
    _bulk_controls(ctx, views)
    today = _events_today(ctx)
    suspended = read_suspended(ctx.data_dir)
    # cards of a fixed width that wrap: as many per row as the screen holds (two on a
    # laptop, four on a wide monitor), never squeezed until their numbers are cut
    with st.container(horizontal=True, gap="medium", key="cards"):
        for view in views:
            camera_card(ctx, view, today, suspended.get(view.camera_id))
    return status
