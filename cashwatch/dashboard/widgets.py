"""Small pieces several pages draw: the manager banner, status badges, formats."""

from __future__ import annotations

import re
import time
from typing import Any

import streamlit as st

from cashwatch.config import LoadedConfig
from cashwatch.dashboard.session import PageContext, role_label, sign_out
from cashwatch.dashboard.status import CameraView, LiveStatus
from cashwatch.dashboard.system_info import STATE_LABELS
from cashwatch.i18n import N_, _
from cashwatch.util.redact import mask_credentials

# Whether this browser tab beeps for news. A plain key flipped by a button, not a toggle
# widget's value: a toggle clicked while the Overview's refreshing fragment runs can have
# its new value replaced by the old one the page sends with the next refresh (seen in
# Chromium); a button's click is an event, which a refresh cannot replay.
SOUND_KEY = "alert_sound"
# the beeps per type of `cashwatch.core.event_types` (a test holds the two together)
SOUND_HELP = N_(
    "Beeps when the Overview shows a new event (three for fire or violence, one "
    "for cash or a till exception, two for a tampered camera) or a camera loses its "
    "picture (two). "
    "Until the page is reloaded."
)

# Characters that mean something to Streamlit's Markdown anywhere in a line (emphasis,
# links and images, autolinks, HTML entities, `$` maths, tables): escaped, only text. `[`
# escaped also defeats its `:colour[...]` directive. Block syntax counts only at the start.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>~$&!|])")
_BLOCK_START = re.compile(r"^(\s*)([#+=>-]|\d+(?=[.)]))")
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://\S+")
SOURCE_HIDDEN = N_("<source hidden>")  # shown translated: `_(SOURCE_HIDDEN)`

BADGE_COLOURS: dict[str, Any] = {
    "running": "green",
    "starting": "blue",
    "connecting": "blue",
    "reconnecting": "orange",
    "stopping": "gray",
    "stopped": "gray",
    "not running": "gray",
    "error": "red",
    "empty": "gray",
}


def plain(text: object) -> str:
    r"""`text` as literal text in anything Streamlit renders as Markdown (st.markdown,
    captions, alerts, toasts, labels): a camera named `![x](http://host/p.png)` must not
    make every browser showing it fetch that image, nor a link or a colour appear.

    >>> print(plain("![x](http://h/p.png) *a* cam-a"))
    \!\[x\](http://h/p.png) \*a\* cam-a
    >>> print(plain("# big"), plain("1. one"))
    \# big 1\. one
    """
    text = _MARKDOWN.sub(r"\\\1", " ".join(str(text).splitlines()))
    match = _BLOCK_START.match(text)
    if match is None:
        return text
    # escape the marker itself: `\#`, `\-`, and after a number its `.` or `)`
    at = match.end() if match.group(2)[0].isdigit() else match.start(2)
    return text[:at] + "\\" + text[at:]


def sees_sources(ctx: PageContext) -> bool:
    """Camera sources (addresses, paths, stream names) are for those who edit cameras."""
    return ctx.user.can("edit_cameras")


def source_hidden(ctx: PageContext, text: str, *sources: str) -> str:
    """`text` (an error, which often quotes the source) without the camera's source and
    any URL, unless the account may see sources."""
    if sees_sources(ctx):
        return text
    hidden = _(SOURCE_HIDDEN)
    for source in sorted(filter(None, sources), key=len, reverse=True):
        text = text.replace(source, hidden)
    return _URL.sub(hidden, text)


def format_duration(seconds: float) -> str:
    """`3725` -> `1h 02m`; `59` -> `59s`.

    >>> format_duration(3725)
    '1h 02m'
    """
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return _("{days}d {hours}h").format(days=days, hours=f"{hours:02d}")
    if hours:
        return _("{hours}h {minutes}m").format(hours=hours, minutes=f"{minutes:02d}")
    if minutes:
        return _("{minutes}m {seconds}s").format(minutes=minutes, seconds=f"{secs:02d}")
    return _("{seconds}s").format(seconds=secs)


def state_label(state: str) -> str:
    """A worker's or service's state in the language in effect (an unknown one as it is).

    >>> state_label("not running"), state_label("paused")
    ('not running', 'paused')
    """
    label = STATE_LABELS.get(state)
    return _(label) if label is not None else state


def status_badge(state: str) -> None:
    st.badge(state_label(state), color=BADGE_COLOURS.get(state, "gray"))


CONFIG_PROBLEM_FOR_SITE_USERS = N_(
    "The camera configuration has a problem an administrator "
    "must fix; your cameras' cards show any that affects them."
)


def manager_banner(
    status: LiveStatus, loaded: LoadedConfig | None = None, *, detail: bool = True
) -> None:
    """Manager offline, or the config it rejected.

    When the only rejections are camera entries (the manager joins their messages into
    the header), each is already shown on its camera's card and on the Cameras page, so
    the banner just names them instead of repeating every message. Without `detail`
    (an account limited to some sites) it says only that there is a problem: the message
    can name other sites' cameras, and their own cameras' cards show their own errors.
    """
    error = status.header.get("config_error")
    if not status.manager_running:
        st.warning(
            _("Manager offline: {problem}.").format(problem=plain(status.problem)),
            icon=":material/power_off:",
        )
    elif error and not detail:
        st.warning(_(CONFIG_PROBLEM_FOR_SITE_USERS), icon=":material/error:")
    elif error and loaded is not None and _only_camera_entries(error, loaded):
        ids = ", ".join(sorted(loaded.camera_errors))
        st.warning(
            _(
                "Camera entries rejected in the config: {cameras}. The others run; see "
                "each card or the Cameras page for why."
            ).format(cameras=plain(ids)),
            icon=":material/error:",
        )
    elif error:
        st.error(
            _(
                "The manager rejected the latest config and keeps running the last good one: "
                "{error}"
            ).format(error=plain(error))
        )


def _only_camera_entries(error: str, loaded: LoadedConfig) -> bool:
    joined = "; ".join(loaded.camera_errors.values())
    return bool(joined) and error in (joined, mask_credentials(joined))


def uptime(record: dict[str, Any] | None, now: float | None = None) -> str:
    """How long the worker has run; "–" for a camera stopped or in error, whose last
    start time would otherwise keep counting (as `cashwatch status` shows it)."""
    if (
        not record
        or not record.get("start_ts")
        or record.get("state") != "running"
        or not record.get("pid")
    ):
        return "–"
    return format_duration((now or time.time()) - float(record["start_ts"]))


def visible(ctx: PageContext, views: list[CameraView], sites: list[str]) -> list[CameraView]:
    """Cameras of the account's sites, narrowed to the chosen sites."""
    return [v for v in views if ctx.user.sees_site(v.site) and (not sites or v.site in sites)]


def site_filter(ctx: PageContext, views: list[CameraView], key: str) -> list[str]:
    sites = sorted({v.site for v in views if ctx.user.sees_site(v.site) and v.site != "?"})
    return st.multiselect(_("Sites"), sites, key=key, placeholder=_("All sites"))


def _flip_sound() -> None:
    st.session_state[SOUND_KEY] = not st.session_state.get(SOUND_KEY, False)


def sidebar_account(ctx: PageContext, login_needed: bool) -> None:
    with st.sidebar:
        if login_needed:
            sites = ", ".join(ctx.user.sites) or _("all sites")
            st.caption(
                _("Signed in as **{user}** ({role}; {sites})").format(
                    user=plain(ctx.user.name), role=role_label(ctx.user.role), sites=plain(sites)
                )
            )
            if st.button(_("Sign out"), key="sign_out"):
                sign_out(ctx.data_dir)
                st.rerun()
        if ctx.user.can("view_events"):
            on = bool(st.session_state.get(SOUND_KEY))
            st.button(
                _("Sound for new events: on") if on else _("Sound for new events: off"),
                key="alert_sound_button",
                icon=":material/volume_up:" if on else ":material/volume_off:",
                on_click=_flip_sound,
                help=_(SOUND_HELP),
            )
        if not ctx.user.limited_to_sites:  # the path says nothing a site's operator needs
            st.caption(_("Config: {path}").format(path=plain(ctx.loaded.path)))
