"""The System page: the machine, the workers, the shared inference services, restarts
over time, disk and the manager's log."""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import psutil
import streamlit as st

from cashwatch.alerts.state import read_state
from cashwatch.alerts.summary import joined_states, stale_note
from cashwatch.dashboard import alerts_view, charts, data, system_info
from cashwatch.dashboard.session import PageContext, guard_page, recheck_sign_in
from cashwatch.dashboard.status import LiveStatus, read_status, service_records
from cashwatch.dashboard.widgets import manager_banner, plain, source_hidden
from cashwatch.i18n import N_, _

REFRESH_S = 2.0
GIB = 2**30
SERVICE_DOWN = ("error", "stopped")
PER_CAMERA_MODELS = N_(
    "No shared inference services: the models run inside each camera worker "
    '(`[model] service = "per-camera"`).'
)


@st.fragment(run_every=REFRESH_S)
def _live_numbers(ctx: PageContext) -> None:
    recheck_sign_in(ctx)
    status = read_status(ctx.data_dir)
    manager_banner(status, ctx.loaded, detail=not ctx.user.limited_to_sites)
    if alert := system_info.database_alert(status.header):
        st.error(plain(alert), icon=":material/database:")  # it quotes the manager
    # a short sample: psutil's "since the last call" is meaningless on a first call
    per_core = psutil.cpu_percent(interval=0.1, percpu=True)
    cores = pd.DataFrame({"core": [str(i) for i in range(len(per_core))], "cpu %": per_core})
    memory = psutil.virtual_memory()
    cols = st.columns([2, 1])
    cols[0].altair_chart(
        alt.Chart(cores)
        .mark_bar()
        .encode(
            x=alt.X("core:N", title=_("Core")),
            y=alt.Y("cpu %:Q", title=_("cpu %"), scale=alt.Scale(domain=[0, 100])),
        )
        .properties(height=180),
        width="stretch",
    )
    cols[1].metric(_("Memory used"), f"{memory.used / GIB:.1f} / {memory.total / GIB:.1f} GiB")
    visible = {cid: r for cid, r in status.records.items() if ctx.user.sees_site(r["site"])}
    if visible:
        st.subheader(_("Workers"))
        table = system_info.shown_table(system_info.workers_table(visible))
        st.dataframe(table, hide_index=True, width="stretch")
    _services(ctx, status)
    _alert_targets(ctx)


def _services(ctx: PageContext, status: LiveStatus) -> None:
    """The shared inference services: every camera's model runs in one of them."""
    if not status.manager_running:
        return  # a dead manager's services are gone; its table would show stale numbers
    records = service_records(ctx.data_dir)
    if not records:
        st.caption(_(PER_CAMERA_MODELS))
        return
    st.subheader(_("Inference services"))
    table = system_info.services_table(records)
    cols = st.columns(2)
    cols[0].altair_chart(
        charts.service_bars(table, "inference ms", _("Model ms per batch")), width="stretch"
    )
    cols[1].altair_chart(
        charts.service_bars(table, "queue max", _("Most requests waiting")), width="stretch"
    )
    st.dataframe(system_info.shown_table(table), hide_index=True, width="stretch")
    if ctx.user.limited_to_sites:
        return  # a crash's message may quote any site's camera: the table says enough
    for record in records:
        if record["error"]:
            _service_error(ctx, record)


def _service_error(ctx: PageContext, record: dict[str, object]) -> None:
    text = source_hidden(ctx, str(record["error"]))
    if record["state"] in SERVICE_DOWN:
        st.error(plain(f"{record['name']}: {text}"), icon=":material/memory:")
    else:  # up again: the crash it recovered from
        crash = _("{service}, last crash: {error}").format(service=record["name"], error=text)
        st.warning(plain(crash), icon=":material/memory:")


def _alert_targets(ctx: PageContext) -> None:
    """Whether alerts get out: a target that keeps failing is said in red, by name."""
    broken = ctx.loaded.alert_errors
    if not ctx.loaded.app.alerts and not broken:
        st.caption(_(alerts_view.NO_TARGETS_HINT))
        return
    st.subheader(_("Alert targets"))
    written_at, reported = read_state(ctx.data_dir)
    states = joined_states(ctx.loaded.app.alerts, reported)
    # an account limited to some sites sees that a target fails, not why: the error
    # names a host or a mailbox of the whole installation
    detail = not ctx.user.limited_to_sites
    for state in states:
        if state.failing:
            line = alerts_view.failing_line(state, with_error=detail)
            st.error(plain(line), icon=":material/notifications_off:")
    if states:
        table = alerts_view.targets_table(states)
        if not detail:
            table = table.drop(columns=[_("last error")])
        st.dataframe(table, hide_index=True, width="stretch")
    if note := stale_note(written_at):
        st.caption(plain(note.capitalize() + "."))
    for name, why in broken.items():
        if detail:
            text = _("Alert entry left out of the config: {name}: {error}")
        else:
            text = _(
                "Alert entry left out of the config: {name}: an administrator must fix this entry"
            )
        text = text.format(name=name, error=why)
        st.warning(plain(text), icon=":material/error:")


def _worker_starts(ctx: PageContext) -> None:
    st.subheader(_("Worker starts (last 7 days)"))
    try:
        runs = data.worker_runs(
            ctx.data_dir,
            dt.datetime.now().astimezone() - dt.timedelta(days=7),
            cameras=ctx.camera_scope(),
        )
        if runs.empty:
            st.caption(_("No worker runs recorded."))
        else:
            st.altair_chart(charts.worker_runs_chart(runs), width="stretch")
    except data.HistoryUnavailable as exc:
        st.info(str(exc))


def _disk(ctx: PageContext) -> None:
    disk = system_info.disk_use(ctx.data_dir)
    cols = st.columns(3)
    cols[0].metric(_("Clips"), f"{disk.clips_bytes / GIB:.2f} GiB")
    cols[1].metric(_("Snapshots"), f"{disk.snapshots_bytes / GIB:.2f} GiB")
    free = _("{free} of {total} GiB").format(
        free=f"{disk.free_bytes / GIB:.1f}", total=f"{disk.total_bytes / GIB:.0f}"
    )
    cols[2].metric(_("Disk free"), free)


def _manager_log(ctx: PageContext) -> None:
    st.subheader(_("Manager log"))
    if system_info.may_read_manager_log(ctx.user):
        log_path = ctx.data_dir / "logs" / "manager.log"
        # the manager's own lines and every camera worker's, which the manager relays
        origin = st.selectbox(
            _("Lines of"),
            [system_info.ALL_ORIGINS, *system_info.log_origins(log_path)],
            format_func=system_info.origin_label,
            key="system_log_origin",
        )
        lines = system_info.log_tail(log_path, origin=origin or system_info.ALL_ORIGINS)
        st.code("\n".join(lines) if lines else _("(no log yet)"), language=None, height=300)
    else:
        st.caption(
            _(
                "Shown to admins of all sites only: it covers every camera of the "
                "installation. The Workers table above shows yours."
            )
        )


def render() -> None:
    ctx = guard_page("view_system")
    st.title(_("System"))
    _live_numbers(ctx)
    _worker_starts(ctx)
    _disk(ctx)
    _manager_log(ctx)
