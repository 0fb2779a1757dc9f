"""The Events page's pieces: filters, the selected event, its review buttons."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import time
from pathlib import Path
from typing import Any

import cv2
import pandas as pd
import streamlit as st

from cashwatch.config.evidence import ClipConfig
from cashwatch.core.event_types import EVENT_TYPE_TABLE
from cashwatch.dashboard import actions, data, event_details
from cashwatch.dashboard.event_details import REVIEW_NAMES, TILL_NAMES, TYPE_NAMES, shown_name
from cashwatch.dashboard.session import PageContext, PermissionDenied, recheck_sign_in
from cashwatch.dashboard.status import read_status
from cashwatch.dashboard.widgets import plain
from cashwatch.evidence.mp4 import trigger_offset_of
from cashwatch.i18n import N_, _, format_date, format_datetime, format_time, ngettext
from cashwatch.till.matching import OUTCOMES

DEFAULT_DAYS = 7
# The clip opens this long before the trigger frame: the operator sees the moment
# itself at once, with a little context; the whole pre-roll is a drag away.
LEAD_S = 2.0
# Encoding the last frames, an fsync, and a storage upload after a clip's end.
CLIP_WRITE_GRACE_S = 120.0
PENDING_KEY = "ev_pending_order"
# How long a review click waits for the manager to store the review (it takes < 1 s)
REVIEW_WAIT_S = 3.0
# Periods that end now, recomputed on every run: a page left open over midnight (a night
# shift) keeps showing new events, which a fixed date range chosen at 23:00 would not.
# The choices are the English names (the widget's values); `_period_name` shows them.
RECENT = {
    N_("Last hour"): dt.timedelta(hours=1),
    N_("Last 12 hours"): dt.timedelta(hours=12),
    N_("Last 24 hours"): dt.timedelta(days=1),
    f"Last {DEFAULT_DAYS} days": dt.timedelta(days=DEFAULT_DAYS),
    N_("Last 30 days"): dt.timedelta(days=30),
}
CUSTOM = N_("Dates…")
# Periods that end now reach this far ahead: a worker clock a little ahead of this one
# must not hide its events
FUTURE_SLACK = dt.timedelta(hours=1)


def filters(ctx: PageContext) -> data.EventFilter:
    """The filter widgets; options come from the history and the config."""
    try:
        options = data.filter_options(ctx.data_dir, ctx.user.sites)
    except data.HistoryUnavailable:
        options = {"site": [], "camera_id": [], "event_type": []}
    sites = sorted({*options["site"], *(c.site for c in ctx.loaded.app.cameras)})
    sites = [s for s in sites if ctx.user.sees_site(s)]
    configured = [c.id for c in ctx.loaded.app.cameras if ctx.user.sees_site(c.site)]
    cameras = sorted({*options["camera_id"], *configured})
    types = sorted({*options["event_type"], *EVENT_TYPE_TABLE})
    today = dt.date.today()
    cols = st.columns([2, 2, 2, 2, 2, 3])
    everything = _("All")
    chosen_sites = cols[0].multiselect(_("Site"), sites, placeholder=everything, key="ev_sites")
    chosen_cams = cols[1].multiselect(_("Camera"), cameras, placeholder=everything, key="ev_cams")
    chosen_types = cols[2].multiselect(
        _("Type"),
        types,
        placeholder=everything,
        key="ev_types",
        format_func=lambda t: shown_name(TYPE_NAMES, t),
    )
    review = cols[3].multiselect(
        _("Review"),
        data.REVIEW_STATUSES,
        placeholder=everything,
        key="ev_review",
        format_func=lambda r: shown_name(REVIEW_NAMES, r),
    )
    till = cols[4].multiselect(
        _("Till"),
        OUTCOMES,
        placeholder=everything,
        key="ev_till",
        format_func=lambda o: shown_name(TILL_NAMES, o),
        help=_(
            "Cash hand-overs against their till: unmatched ones had no sale rung up "
            "in the window (docs/till.md)."
        ),
    )
    start, end = _period_widgets(cols[5], today)
    return data.EventFilter(
        start=start,
        end=end,
        sites=tuple(chosen_sites),
        cameras=tuple(chosen_cams),
        types=tuple(chosen_types),
        review=tuple(review),
        till=tuple(till),
        allowed_sites=ctx.user.sites,
    )


def still_open(flt: data.EventFilter) -> data.EventFilter:
    """The filter as of now: a period that ends now keeps ending now on a page left open
    for hours (its end was fixed when the list was drawn); exact dates stay as chosen."""
    if st.session_state.get("ev_recent", "") == CUSTOM:
        return flt
    return dataclasses.replace(flt, end=dt.datetime.now().astimezone() + FUTURE_SLACK)


def _period_widgets(column: Any, today: dt.date) -> tuple[dt.datetime, dt.datetime]:
    choices = [*RECENT, CUSTOM]
    choice = column.selectbox(
        _("Period"),
        choices,
        index=choices.index(f"Last {DEFAULT_DAYS} days"),
        key="ev_recent",
        format_func=_period_name,
    )
    if choice != CUSTOM:
        now = dt.datetime.now().astimezone()
        return now - RECENT[choice], now + FUTURE_SLACK
    days = column.date_input(
        _("Days"), (today - dt.timedelta(days=DEFAULT_DAYS), today), key="ev_period"
    )
    return _period(days, today)


def _period_name(choice: str) -> str:
    """A period's choice as people read it (the choice itself stays English).

    >>> _period_name("Last hour"), _period_name(f"Last {DEFAULT_DAYS} days")
    ('Last hour', 'Last 7 days')
    """
    if choice == f"Last {DEFAULT_DAYS} days":
        return ngettext("Last {days} day", "Last {days} days", DEFAULT_DAYS).format(
            days=DEFAULT_DAYS
        )
    return _(choice)


def _period(value: Any, today: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Local midnight of the first day to local midnight after the last day."""
    days = list(value) if isinstance(value, (tuple, list)) else [value]
    first = days[0] if days else today
    last = days[-1] if len(days) > 1 else first
    local = dt.datetime.now().astimezone().tzinfo
    start = dt.datetime.combine(first, dt.time(), local)
    return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), local)


def trigger_offset_s(clip: Path, post_seconds: float) -> int:
    """Where to start playing: LEAD_S before the trigger frame, as the clip notes it
    (`mp4.trigger_offset_of`). An older clip without the note is taken to end
    `post_seconds` after it: counted back from the end, since its pre-roll may be
    shorter than configured (a camera just started)."""
    with contextlib.suppress(OSError, ValueError):
        noted = trigger_offset_of(clip)
        if noted is not None:
            return max(0, int(noted - LEAD_S))
    capture = cv2.VideoCapture(str(clip))
    try:
        frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    if fps <= 0 or frames <= 0:
        return 0
    return max(0, int(frames / fps - post_seconds - LEAD_S))


# What an operator reads first, in this order (the event id, a 29-digit key for whoever
# needs to quote it, last). The shown table's columns are these names in the language in
# effect: English keeps the names of the query (what a test or an analyst quotes), other
# languages name them as the headings; `table_columns` gives the headings and their help.
TABLE_COLUMNS: dict[str, str] = {
    "started_at": N_("started_at"),
    "event_type": N_("event_type"),
    "lasted_s": N_("lasted_s"),
    "till_match": N_("till_match"),
    "camera_id": N_("camera_id"),
    "site": N_("site"),
    "confidence": N_("confidence"),
    "review_status": N_("review_status"),
    "reviewed_by": N_("reviewed_by"),
    "notes": N_("notes"),
    "event_id": N_("event_id"),
}


def table_columns() -> dict[str, Any]:
    """The table's headings and their help, in the language in effect, by shown column."""
    configs = {
        "started_at": st.column_config.DatetimeColumn(_("When"), format="YYYY-MM-DD HH:mm:ss"),
        "event_type": st.column_config.TextColumn(_("Type")),
        "lasted_s": st.column_config.TextColumn(
            _("Lasted"),
            help=_(
                "From the detection to the last moment the behaviour was still seen; empty "
                "while it goes on, or when not known (its worker crashed, or the event is "
                "older than CashWatch's event ends)."
            ),
        ),
        "till_match": st.column_config.TextColumn(
            _("Till"),
            help=_(
                "Cash hand-overs: matched (rung up), unmatched (no sale in the window: "
                "look at these first), pending (the window is still open), no_till (the "
                "camera watches no till)."
            ),
        ),
        "camera_id": st.column_config.TextColumn(_("Camera")),
        "site": st.column_config.TextColumn(_("Site")),
        "confidence": st.column_config.ProgressColumn(
            _("Confidence"), min_value=0.0, max_value=1.0, format="%.2f"
        ),
        "review_status": st.column_config.TextColumn(_("Review")),
        "reviewed_by": st.column_config.TextColumn(_("By")),
        "notes": st.column_config.TextColumn(_("Note")),
        "event_id": st.column_config.TextColumn(_("Event id")),
    }
    return {_(TABLE_COLUMNS[column]): config for column, config in configs.items()}


def table(events: pd.DataFrame) -> pd.DataFrame:
    """The list as shown: local times, stored words (type, review, till) as people read
    them, the columns of TABLE_COLUMNS in that order."""
    shown = events[list(TABLE_COLUMNS)].copy()
    shown["started_at"] = pd.to_datetime(shown["started_at"], utc=True).dt.tz_convert(
        dt.datetime.now().astimezone().tzinfo
    )
    shown["notes"] = shown["notes"].fillna("")
    shown["reviewed_by"] = shown["reviewed_by"].fillna("")
    shown["till_match"] = [
        "" if _is_missing(t) else shown_name(TILL_NAMES, t) for t in shown["till_match"]
    ]
    shown["event_type"] = [shown_name(TYPE_NAMES, t) for t in shown["event_type"]]
    shown["review_status"] = [
        "" if _is_missing(r) else shown_name(REVIEW_NAMES, r) for r in shown["review_status"]
    ]
    # words, not a number column: that shows "None" for an event still going on
    shown["lasted_s"] = [duration_text(s) if not _is_missing(s) else "" for s in shown["lasted_s"]]
    return shown.rename(columns={column: _(name) for column, name in TABLE_COLUMNS.items()})


def table_key(event_ids: list[str]) -> str:
    """The table's widget key, one per list of events: Streamlit keeps a selection (a row
    *position*) for as long as the key lives, so when new events shift the rows a new
    key drops it, instead of letting it point at another event."""
    digest = hashlib.blake2s("\n".join(event_ids).encode(), digest_size=6).hexdigest()
    return f"ev_table_{digest}"


def follow_table_click(picked: Any, event_ids: list[str]) -> None:
    """A click on a table row selects that event below, once: the selectbox stays free
    to choose another until the next click (also on the same row again)."""
    rows = list(getattr(getattr(picked, "selection", None), "rows", []) or [])
    if not rows or rows[0] >= len(event_ids):
        st.session_state.pop("ev_clicked", None)
        return
    clicked = event_ids[rows[0]]
    if st.session_state.get("ev_clicked") != clicked:
        st.session_state["ev_clicked"] = clicked
        st.session_state["ev_selected"] = clicked


def label(row: pd.Series, *, recording: bool = False) -> str:
    started = pd.Timestamp(row["started_at"])
    if started.tzinfo is not None:  # shown in the server's local time, like the filters
        started = started.tz_convert(dt.datetime.now().astimezone().tzinfo)
    when = format_datetime(started.to_pydatetime())
    kind = shown_name(TYPE_NAMES, row["event_type"])
    review = shown_name(REVIEW_NAMES, row["review_status"])
    text = f"{when} · {kind} · {row['camera_id']} · {review}"
    return text + (f" · {_(RECORDING_MARK)}" if recording else "")


RECORDING_MARK = N_("clip still recording")  # shown translated: `_(RECORDING_MARK)`


def clips_coming(ctx: PageContext, events: pd.DataFrame, now: float | None = None) -> set[str]:
    """The listed events whose clip is still on its way (recording, post-roll, being
    written): at the moment of a detection that is usually the newest ones."""
    now = time.time() if now is None else now
    coming = set()
    for row in events.to_dict("records"):
        if clip_arrived(row):
            continue
        # the list carries how long an event lasted, not when it ended
        lasted_s = row.get("lasted_s")
        ended = (
            None
            if _is_missing(lasted_s)
            else pd.Timestamp(row["started_at"]) + pd.Timedelta(seconds=float(lasted_s))
        )
        state, _left = clip_state(
            {**row, "ended_at": ended}, clip_settings(ctx, row.get("camera_id")), now
        )
        if state != LOST:
            coming.add(str(row["event_id"]))
    return coming


def open_on(event_ids: list[str], coming: set[str]) -> None:
    """The event the page opens on: the newest whose clip is no longer on its way (it
    plays at once), not the newest, whose clip is usually still being recorded. A
    choice already made stands; a recording one can still be picked in the list."""
    if st.session_state.get("ev_selected") in event_ids:
        return
    settled = [i for i in event_ids if i not in coming]
    st.session_state["ev_selected"] = next(iter(settled), event_ids[0])


def _review(ctx: PageContext, event: dict[str, Any], status: str, notes_key: str) -> None:
    # the note is read here, not bound when the button was drawn: typing and clicking
    # arrive in the same rerun, after the button's arguments were fixed
    notes = str(st.session_state.get(notes_key) or "") or None
    sent = time.time()
    try:
        actions.review(ctx, event, status, notes)
    except (PermissionDenied, ValueError, OSError) as exc:
        st.session_state["ev_flash"] = ("error", _("Review refused: {error}").format(error=exc))
        return
    # The manager, the only writer, stores it within a second; waiting for that here
    # means the page redrawn after this shows the new status, not "pending" still.
    names = {
        "event_type": shown_name(TYPE_NAMES, event["event_type"]),
        "camera": event["camera_id"],
        "status": shown_name(VERDICT_NAMES, status),
    }
    # a verdict, not a note: on to the next event waiting
    moved = status != event.get("review_status") and _select_next_pending(str(event["event_id"]))
    # Without a manager nothing stores it now: no point waiting for that
    if read_status(ctx.data_dir).manager_running and _wait_for_review(
        ctx, str(event["event_id"]), sent
    ):
        said = (
            _("Marked {event_type} on {camera} {status}. Next event waiting for review:")
            if moved
            else _("Marked {event_type} on {camera} {status}.")
        )
    else:
        said = (
            _(
                "Marked {event_type} on {camera} {status}; the history shows it once the "
                "manager stores it (it is not running or is busy). Next event waiting for "
                "review:"
            )
            if moved
            else _(
                "Marked {event_type} on {camera} {status}; the history shows it once the "
                "manager stores it (it is not running or is busy)."
            )
        )
    st.session_state["ev_flash"] = ("success", said.format(**names))


# A review status in a sentence ("Marked cash on cam-a false positive.")
VERDICT_NAMES = {
    "pending": N_("pending"),
    "confirmed": N_("confirmed"),
    "false_positive": N_("false positive"),
}


def remember_pending(events: pd.DataFrame) -> None:
    """The unreviewed events of the list as shown, newest first, for `_select_next_pending`."""
    pending = events[events["review_status"] == "pending"]
    st.session_state[PENDING_KEY] = [str(i) for i in pending["event_id"]]


def _select_next_pending(reviewed: str) -> bool:
    """After a verdict the operator wants the next event still waiting, not the one just
    done: the next older pending one in the list, else the newest left."""
    order: list[str] = st.session_state.get(PENDING_KEY, [])
    rest = [i for i in order if i != reviewed]
    if not rest:
        return False
    older = order[order.index(reviewed) + 1 :] if reviewed in order else []
    st.session_state["ev_selected"] = next(iter(older), rest[0])
    return True


def _wait_for_review(
    ctx: PageContext, event_id: str, sent: float, timeout_s: float = REVIEW_WAIT_S
) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if data.review_stored_since(ctx.data_dir, event_id, sent - 0.001):
                return True
        except data.HistoryUnavailable:
            pass  # the manager is writing: try again
        time.sleep(0.1)  # polling the database, with a deadline
    return False


def review_controls(ctx: PageContext, event: dict[str, Any]) -> None:
    if not ctx.user.can("review_events"):
        return
    notes_key = f"note_{event['event_id']}"
    st.text_input(_("Note"), value=event.get("notes") or "", key=notes_key)
    current = str(event.get("review_status") or "pending")
    cols = st.columns(3)
    cols[0].button(
        _("Confirm"),
        key="ev_confirm",
        type="primary",
        on_click=_review,
        args=(ctx, event, "confirmed", notes_key),
    )
    cols[1].button(
        _("False alarm"),
        key="ev_false",
        on_click=_review,
        help=_("Not what the rule says it is: stored as false_positive"),
        args=(ctx, event, "false_positive", notes_key),
    )
    cols[2].button(
        _("Save note"), key="ev_note", on_click=_review, args=(ctx, event, current, notes_key)
    )
    kind, message = st.session_state.pop("ev_flash", (None, None))
    if kind == "success":
        st.success(plain(message))
    elif kind == "error":
        st.error(plain(message))


def clip_settings(ctx: PageContext, camera_id: Any) -> ClipConfig:
    camera = ctx.loaded.cameras.get(str(camera_id))
    return camera.clip if camera else ClipConfig()


def evidence(ctx: PageContext, event: dict[str, Any]) -> None:
    """The clip and snapshot, for an account allowed the event's site only: once on the
    page they are served at `/media/<hash>` to whoever has that URL, while it is shown."""
    if not ctx.user.sees_site(str(event.get("site"))):
        st.warning(_("This event belongs to a site your account does not cover."))
        return
    clip = data.evidence_file(ctx.data_dir, event.get("clip_path"))
    settings = clip_settings(ctx, event.get("camera_id"))
    if isinstance(clip, Path):
        start = trigger_offset_s(clip, settings.post_seconds)
        st.video(str(clip), start_time=start)
        if start:
            st.caption(
                _(
                    "Playing from {lead} s before the detection; the clip's first "
                    "{start} s show what led up to it."
                ).format(lead=f"{LEAD_S:.0f}", start=start)
            )
    elif clip is not None:
        st.video(clip)
    elif event.get("clip_error"):
        st.warning(_("No clip: {error}").format(error=plain(event["clip_error"])))
    elif not _is_missing(event.get("evidence_expired_at")):
        st.info(
            _(
                "Clip and snapshot deleted by retention on {date}; the event and its "
                "review are kept."
            ).format(date=format_date(pd.Timestamp(event["evidence_expired_at"]).to_pydatetime()))
        )
    elif event.get("clip_path"):
        st.warning(
            _(
                "The clip {clip} cannot be read: it was moved or deleted outside "
                "CashWatch, or the evidence store cannot be reached."
            ).format(clip=plain(event["clip_path"]))
        )
    elif clip_state(event, settings, time.time())[0] == LOST:
        st.info(_clip_to_come(event, settings, time.time()))
    else:
        _clip_countdown(ctx, str(event["event_id"]), settings)
    snapshot = data.evidence_file(ctx.data_dir, event.get("snapshot_path"))
    if snapshot is not None:
        # with no clip to play, the snapshot is the picture: as wide as the column
        st.image(
            snapshot if isinstance(snapshot, bytes) else str(snapshot),
            caption=_("Snapshot at the trigger frame"),
            width="content" if clip is not None else "stretch",
        )


# How a clip that has not arrived stands (`clip_state`)
RECORDING, POST_ROLL, WRITING, LOST = "recording", "post-roll", "being written", "never coming"
COUNTDOWN_S = 1.0  # the countdown ticks every second…
RECHECK_S = 5.0  # …and looks for the clip in the database every 5 s, or once it is due
_CHECKED_KEY = "ev_clip_checked"


def clip_state(event: dict[str, Any], clip: ClipConfig, now: float) -> tuple[str, float | None]:
    """Where a clip not yet stored stands, and the seconds until it should appear (None:
    not known, while the event goes on, or never).

    >>> import pandas as pd
    >>> at = pd.Timestamp(1000, unit="s", tz="UTC")
    >>> clip_state({"started_at": at, "ended_at": None}, ClipConfig(), 1030)
    ('recording', None)
    >>> clip_state({"started_at": at, "ended_at": at + pd.Timedelta(seconds=2)}, ClipConfig(), 1004)
    ('post-roll', 8.0)
    >>> clip_state({"started_at": at, "ended_at": at}, ClipConfig(), 1000 + 500)
    ('never coming', None)
    """
    started = pd.Timestamp(event["started_at"]).timestamp()
    # a clip is done at most max_seconds after it starts, plus the time to write it
    if now - started > clip.max_seconds + CLIP_WRITE_GRACE_S:
        return LOST, None
    if _is_missing(event.get("ended_at")):
        return RECORDING, None
    due = pd.Timestamp(event["ended_at"]).timestamp() + clip.post_seconds
    if now < due:
        return POST_ROLL, due - now
    return WRITING, None


def _clip_to_come(event: dict[str, Any], clip: ClipConfig, now: float) -> str:
    """What to say about a clip that has not arrived: recording, or never to come."""
    state, left = clip_state(event, clip, now)
    if state == LOST:
        return _(
            "No clip was recorded: the camera's worker stopped before it could finish "
            "it (a crash or a power cut)."
        )
    if state == RECORDING:
        started = pd.Timestamp(event["started_at"]).timestamp()
        latest = dt.datetime.fromtimestamp(started + clip.max_seconds).astimezone()
        return _(
            "The clip is still being recorded: it follows the {event_type} event until "
            "{post} s after it is last seen (at most {most} s in all) and appears then. "
            "Going on for {duration}; the clip appears by {time} at the latest."
        ).format(
            event_type=plain(shown_name(TYPE_NAMES, event["event_type"])),
            post=f"{clip.post_seconds:g}",
            most=f"{clip.max_seconds:g}",
            duration=duration_text(now - started),
            time=format_time(latest),
        )
    if state == POST_ROLL:
        return _(
            "The event is over; its clip records {post} s past the end and appears "
            "then, in about {duration}."
        ).format(post=f"{clip.post_seconds:g}", duration=duration_text(left or 0.0))
    return _("The clip is being written; it appears in a moment.")


@st.fragment(run_every=COUNTDOWN_S)
def _clip_countdown(ctx: PageContext, event_id: str, settings: ClipConfig) -> None:
    """A clip still to come, counted down live; once it is stored (or will never come)
    the page is drawn again, with the video. It ticks on with the page's context, so it
    re-checks the sign-in first: signed out elsewhere, it must not go on showing."""
    recheck_sign_in(ctx)
    event = _recent_look(ctx, event_id)
    if event is None:
        return
    now = time.time()
    if clip_arrived(event) or clip_state(event, settings, now)[0] == LOST:
        st.session_state.pop(_CHECKED_KEY, None)
        st.rerun()  # the whole page: it draws the clip (or says it never came)
    st.info(_clip_to_come(event, settings, now), icon=":material/radio_button_checked:")


def clip_arrived(event: dict[str, Any]) -> bool:
    """Stored as done: a clip, a reason there is none, or evidence already expired."""
    return any(
        not _is_missing(event.get(key)) and event.get(key) != ""
        for key in ("clip_path", "clip_error", "evidence_expired_at")
    )


def _recent_look(ctx: PageContext, event_id: str) -> dict[str, Any] | None:
    """The event as last read from the database, read again every RECHECK_S or once its
    clip is due: a countdown ticking every second needs no query every second (each one
    holds the file the manager writes to)."""
    now = time.time()
    checked_at, event = st.session_state.get(_CHECKED_KEY, (0.0, None))
    stale = event is None or event.get("event_id") != event_id or now - checked_at >= RECHECK_S
    due = (
        event is not None
        and clip_state(event, clip_settings(ctx, event.get("camera_id")), now)[0] == WRITING
    )
    if stale or due:
        with contextlib.suppress(data.HistoryUnavailable):  # busy: the last look will do
            fresh = data.get_event(ctx.data_dir, event_id)
            if fresh is not None:
                event = fresh
                st.session_state[_CHECKED_KEY] = (now, event)
    return event if event is not None and event.get("event_id") == event_id else None


def lasted(event: dict[str, Any]) -> str:
    """How long the behaviour went on after the detection, in words.

    >>> import pandas as pd
    >>> lasted({"started_at": pd.Timestamp(0, unit="s"), "ended_at": pd.Timestamp(83, unit="s")})
    'lasted 1 min 23 s'
    >>> lasted({"started_at": pd.Timestamp(0, unit="s"), "ended_at": None})
    'still going on, or its end is not known'
    """
    ended = event.get("ended_at")
    if _is_missing(ended):
        return _("still going on, or its end is not known")
    seconds = (pd.Timestamp(ended) - pd.Timestamp(event["started_at"])).total_seconds()
    return _("lasted {duration}").format(duration=duration_text(seconds))


def duration_text(seconds: float) -> str:
    """
    >>> duration_text(2.04), duration_text(83.4), duration_text(-1)
    ('2.0 s', '1 min 23 s', '0.0 s')
    """
    seconds = max(0.0, float(seconds))
    minutes, rest = divmod(round(seconds), 60)
    if minutes:
        return _("{minutes} min {seconds} s").format(minutes=minutes, seconds=rest)
    return _("{seconds} s").format(seconds=f"{seconds:.1f}")


def details(event: dict[str, Any]) -> None:
    """The event in a line, what its rule measured as labelled values (who met whom, how
    close, the score, the reason), and the whole row as JSON, folded, for analysts."""
    st.markdown(
        _(
            "**{event_type}** on {camera} ({site}) · confidence {confidence} · {lasted} · "
            "review: **{review}**"
        ).format(
            event_type=plain(shown_name(TYPE_NAMES, event["event_type"])),
            camera=plain(event["camera_id"]),
            site=plain(event["site"]),
            confidence=f"{float(event['confidence']):.2f}",
            lasted=lasted(event),
            review=plain(shown_name(REVIEW_NAMES, event.get("review_status") or "pending")),
        )
    )
    trigger = pd.Timestamp(event["started_at"]).timestamp()
    rows = event_details.detail_rows(str(event["event_type"]), event.get("details"), trigger)
    if rows:
        # one Markdown block, a line per value; names and values are text, never Markdown
        st.markdown("  \n".join(f"**{plain(name)}:** {plain(value)}" for name, value in rows))
    shown = {k: v for k, v in event.items() if k not in ("details",)}
    with st.expander(_("Raw event data (JSON)")):
        st.json(
            {
                "details": event.get("details"),
                **{k: str(v) for k, v in shown.items() if not _is_missing(v)},
            }
        )


def _is_missing(value: Any) -> bool:
    """None, NaN or NaT: DuckDB's NULL as pandas hands it over."""
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))
