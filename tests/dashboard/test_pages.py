"""Every page renders from real state; the Events, Live, SQL and Cameras behaviours."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import cv2
import duckdb
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cashwatch.auth import LOCAL_ADMIN
from cashwatch.config import ConfigError, edit, load_config
from cashwatch.dashboard import actions, data
from cashwatch.dashboard.events_view import table_key, trigger_offset_s
from cashwatch.dashboard.session import PageContext
from cashwatch.dashboard.widgets import uptime
from cashwatch.evidence.frame import BufferedFrame
from cashwatch.evidence.mp4 import write_clip
from cashwatch.status import TAMPERED_NOTE, tampered_note
from tests.dashboard import builders
from tests.dashboard.builders import EVENT_ID
from tests.dashboard.conftest import Dashboard

PAGES = ["pages/live.py", "pages/events.py", "pages/cameras.py", "pages/system.py", "pages/sql.py"]


def _all_text(at: AppTest) -> str:
    parts = [*at.markdown, *at.caption, *at.error, *at.warning, *at.info, *at.success, *at.code]
    return "\n".join(str(e.value) for e in parts)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_and_without_manager(dash: Dashboard, page: str) -> None:
    at = dash.page(page)
    assert not at.exception, at.exception
    assert at.title and at.title[0].value
    assert "hunter2" not in _all_text(at)


@pytest.mark.parametrize("page", PAGES)
def test_pages_work_without_manager(offline_dash: Dashboard, page: str) -> None:
    at = offline_dash.page(page)
    assert not at.exception, at.exception


def test_events_page_lists_the_event_and_shows_its_clip(dash: Dashboard) -> None:
    at = dash.page("pages/events.py")
    table = at.dataframe[0].value
    assert EVENT_ID in set(table["event_id"])
    assert at.selectbox(key="ev_selected").value == EVENT_ID
    videos = at.get("video")
    assert len(videos) == 1 and videos[0].proto.url  # served by Streamlit's media manager
    assert len(at.image) == 1  # the snapshot


def test_review_buttons_write_the_review_journal(dash: Dashboard) -> None:
    at = dash.page("pages/events.py")
    at.text_input(key=f"note_{EVENT_ID}").input("cash went to the till")
    at.button(key="ev_confirm").click().run()
    assert not at.exception, at.exception
    lines = [
        json.loads(line)
        for path in (dash.data_dir / "journal" / "_review").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert lines == [lines[0]] and lines[0]["event_id"] == EVENT_ID
    assert lines[0]["review_status"] == "confirmed"
    assert lines[0]["notes"] == "cash went to the till"
    assert lines[0]["reviewed_by"] == "ada", "the reviewer is on record"


def test_live_page_shows_the_latest_frame_with_its_age(dash: Dashboard) -> None:
    at = dash.page("pages/live.py")
    assert len(at.image) == 1  # cam-a has a frame; cam-b (error) has none
    assert "frame 42" in str(at.image[0].proto.imgs[0].caption)
    assert any("error, no live frame" in e.value for e in at.error), [e.value for e in at.error]


def test_live_page_marks_a_stopped_cameras_last_frame(dash: Dashboard) -> None:
    assert dash.live is not None
    dash.live.table.update_manager(0, state="stopped", pid=0)
    at = dash.page("pages/live.py")
    assert len(at.image) == 1, "the last frame is still shown, greyed"
    assert any("cam-a" not in e.value and "STOPPED" in e.value for e in at.error), [
        e.value for e in at.error
    ]


def test_sql_page_refuses_a_delete(dash: Dashboard) -> None:
    at = dash.page("pages/sql.py")
    at.text_area(key="sql_query").input("DELETE FROM events")
    at.button(key="sql_run").click().run()
    assert any("DELETE statements are refused" in e.value for e in at.error)
    at.text_area(key="sql_query").input(
        "WITH x AS (SELECT 1) SELECT event_type, count(*) AS n FROM events GROUP BY 1"
    )
    at.button(key="sql_run").click().run()
    assert not at.error
    assert sorted(at.dataframe[0].value["event_type"]) == ["cash", "fire"]
    assert len(at.get("download_button")) == 2


def test_sql_cannot_read_server_files(dash: Dashboard) -> None:
    at = dash.page("pages/sql.py")
    at.text_area(key="sql_query").input("SELECT * FROM read_text('/etc/hostname')")
    at.button(key="sql_run").click().run()
    assert any("disabled by configuration" in e.value for e in at.error)


def test_cameras_page_saves_an_edited_setting(dash: Dashboard) -> None:
    at = dash.page("pages/cameras.py")
    at.selectbox(key="cam_choice").select("cam-a").run()
    assert at.text_input(key="camera_form_cam-a.name").value == "Front desk"
    at.number_input(key="camera_form_cam-a.cooldown_s").set_value(42.0)
    at.text_input(key="camera_form_cam-a.name").input("Front desk, left till")
    at.button(key="FormSubmitter:camera_form_cam-a-Save camera").click().run()
    assert not at.exception, at.exception
    camera = load_config(dash.config_path).camera("cam-a")
    assert camera.cooldown_s == 42.0 and camera.name == "Front desk, left till"
    assert camera.source.endswith("a.mp4")  # an empty source field keeps the source


def test_cameras_page_saves_zones_entered_as_points(dash: Dashboard) -> None:
    at = dash.page("pages/cameras.py")
    at.selectbox(key="cam_choice").select("cam-a").run()
    at.session_state["zone_points_cam-a"] = {
        "cashier": [[0.6, 0.0], [1.0, 0.0], [1.0, 1.0]],
        "counter": [],
        "drawer": [],
    }
    at.run()
    at.button(key="zone_points_cam-a_save").click().run()
    assert not at.exception, at.exception
    zones = load_config(dash.config_path).camera("cam-a").zones
    assert zones.cashier == [(0.6, 0.0), (1.0, 0.0), (1.0, 1.0)]
    assert zones.counter is None


def test_a_click_on_the_zone_chart_becomes_a_normalised_point() -> None:
    from cashwatch.dashboard.zones_editor import grid_frame, point_from_selection

    state = {"selection": {"click": [{"x": 0.25, "y": 0.7300000001}]}}
    assert point_from_selection(state) == (0.25, 0.73)
    assert point_from_selection({"selection": {"click": []}}) is None
    grid = grid_frame()
    assert grid["x"].min() == 0.0 and grid["y"].max() == 1.0 and len(grid) == 101 * 101


def _add_camera(at: AppTest, camera_id: str, source: str) -> AppTest:
    at.selectbox(key="cam_choice").select("+ New camera").run()
    at.text_input(key="camera_form_new.id").input(camera_id)
    at.text_input(key="camera_form_new.source").input(source)
    return at.button(key="FormSubmitter:camera_form_new-Save camera").click().run()


def test_a_new_camera_never_replaces_one_with_the_same_id(dash: Dashboard) -> None:
    before = dash.config_path.read_text()
    at = _add_camera(dash.page("pages/cameras.py"), "cam-a", "demo:fire")
    assert not at.exception, at.exception
    assert any("'cam-a' already exists" in e.value for e in at.error), [e.value for e in at.error]
    assert not at.success
    assert dash.config_path.read_text() == before
    _add_camera(at, "cam-c", "demo:fire")
    assert not at.error and any("'cam-c' saved" in s.value for s in at.success)
    loaded = load_config(dash.config_path)
    assert list(loaded.cameras) == ["cam-a", "cam-b", "cam-c"]
    assert loaded.camera("cam-a").name == "Front desk" and loaded.camera("cam-a").zones.cashier


def test_adding_checks_the_file_not_the_page(dash: Dashboard) -> None:
    """A camera added in another tab after this page loaded is not replaced either."""
    ctx = PageContext(loaded=load_config(dash.config_path), user=LOCAL_ADMIN)
    edit.add_camera(dash.config_path, {"id": "cam-c", "source": "demo:fire", "site": "bar"})
    with pytest.raises(ConfigError, match="'cam-c' already exists"):
        actions.add_camera(ctx, {"id": "cam-c", "source": "demo:walk"})
    assert load_config(dash.config_path).camera("cam-c").site == "bar"


def test_an_event_whose_evidence_expired_is_still_shown_and_says_so(dash: Dashboard) -> None:
    with duckdb.connect(str(dash.data_dir / "cashwatch.duckdb")) as conn:
        conn.execute(
            "UPDATE events SET clip_path = NULL, snapshot_path = NULL, "
            "evidence_expired_at = TIMESTAMPTZ '2026-11-20 03:00:00+00' "
            "WHERE event_id = ?",
            [EVENT_ID],
        )
    at = dash.page("pages/events.py")
    assert not at.exception, at.exception
    assert any("deleted by retention on 2026-11-2" in i.value for i in at.info), [
        i.value for i in at.info
    ]
    assert not any("NaT" in str(j.value) for j in at.json), "NULL times are left out"


def test_a_clip_file_gone_outside_cashwatch_is_called_missing(dash: Dashboard) -> None:
    for clip in (dash.data_dir / "clips").rglob("*.mp4"):
        clip.unlink()
    at = dash.page("pages/events.py")
    assert not at.exception, at.exception
    assert any("cannot be read" in w.value and EVENT_ID in w.value for w in at.warning), [
        w.value for w in at.warning
    ]


@pytest.mark.parametrize(
    ("age_s", "ended", "says"),
    [
        (
            5.0,
            False,
            "still being recorded: it follows the fire event until 10 s after it is "
            "last seen (at most 120 s in all)",
        ),
        (5.0, True, "The event is over; its clip records 10 s past the end"),
        (30.0, True, "being written"),
        (600.0, False, "No clip was recorded: the camera's worker stopped"),
    ],
)
def test_a_clip_still_to_come_says_why(
    dash: Dashboard, age_s: float, ended: bool, says: str
) -> None:
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age_s)
    with duckdb.connect(str(dash.data_dir / "cashwatch.duckdb")) as conn:
        conn.execute("DELETE FROM events WHERE event_id <> ?", [EVENT_ID])  # the one shown
        conn.execute(
            "UPDATE events SET clip_path = NULL, event_type = 'fire', started_at = ?, "
            "ended_at = ? WHERE event_id = ?",
            [started, started + dt.timedelta(seconds=1) if ended else None, EVENT_ID],
        )
    at = dash.page("pages/events.py")
    assert not at.exception, at.exception
    assert any(says in i.value for i in at.info), [i.value for i in at.info]


def test_recent_periods_end_now_and_follow_the_clock(dash: Dashboard) -> None:
    with duckdb.connect(str(dash.data_dir / "cashwatch.duckdb")) as conn:
        conn.execute(
            "INSERT INTO events (event_id, camera_id, site, event_type, started_at, "
            "confidence, model) VALUES ('three-hours-ago', 'cam-a', 'lobby', 'fire', "
            "now() - INTERVAL 3 HOUR, 0.5, 'x')"
        )
    at = dash.page("pages/events.py")
    assert {EVENT_ID, "three-hours-ago"} <= set(at.dataframe[0].value["event_id"])
    lasted = dict(
        zip(at.dataframe[0].value["event_id"], at.dataframe[0].value["lasted_s"], strict=True)
    )
    assert (lasted[EVENT_ID], lasted["three-hours-ago"]) == ("2.0 s", ""), "no end: blank"
    at.selectbox(key="ev_recent").select("Last hour").run()
    shown = set(at.dataframe[0].value["event_id"])
    assert EVENT_ID in shown and "three-hours-ago" not in shown
    at.selectbox(key="ev_recent").select("Dates…").run()
    assert at.date_input(key="ev_period") is not None, "exact days can still be chosen"


@pytest.mark.parametrize(
    ("state", "pid", "shown"),
    [("running", 123, "1m 40s"), ("stopped", 0, "–"), ("error", 0, "–"), ("connecting", 77, "–")],
)
def test_uptime_counts_only_while_the_worker_runs(state: str, pid: int, shown: str) -> None:
    record = {"state": state, "pid": pid, "start_ts": 1000.0}
    assert uptime(record, now=1100.0) == shown


@pytest.mark.parametrize(("seconds", "post", "expected"), [(15.0, 5.0, 8), (4.0, 5.0, 0)])
def test_a_clip_opens_just_before_its_detection(
    tmp_path: Path, seconds: float, post: float, expected: int
) -> None:
    """15 s = 10 s before the trigger + 5 s after: play from 8 s (2 s before it); a clip
    shorter than its post-roll plays from the start."""
    clip = builders.write_h264_clip(tmp_path / "clip.mp4", seconds=seconds)
    assert trigger_offset_s(clip, post) == expected


def test_a_clip_that_notes_its_trigger_opens_there_whatever_the_settings_now(
    tmp_path: Path,
) -> None:
    """Recorded with 30 s of post-roll, now configured 10: the clip's own note wins."""
    frames = [
        BufferedFrame(
            ts=100.0 + i / 10,
            jpeg=cv2.imencode(".jpg", np.zeros((64, 64, 3), np.uint8))[1].tobytes(),
        )
        for i in range(400)
    ]
    clip = tmp_path / "clip.mp4"
    write_clip(frames, clip, fps=10.0, trigger_ts=110.0)
    assert trigger_offset_s(clip, post_seconds=10.0) == 8


def _new_event(dash: Dashboard, event_id: str, event_type: str) -> None:
    """An event row stored now, as the manager would store a new one."""
    with duckdb.connect(str(dash.data_dir / "cashwatch.duckdb")) as conn:
        conn.execute(
            "INSERT INTO events (event_id, camera_id, site, event_type, started_at, "
            "confidence, model) VALUES (?, 'cam-a', 'lobby', ?, now(), 0.8, 'x')",
            [event_id, event_type],
        )


def test_overview_lists_events_waiting_for_review_and_toasts_new_ones(dash: Dashboard) -> None:
    at = dash.app().run()
    assert not at.exception, at.exception
    assert any("2 events waiting for review" in h.value for h in at.subheader), [
        h.value for h in at.subheader
    ]
    assert len(at.image) >= 1, "the cash event's snapshot"
    assert not at.toast, "nothing is new when the page opens"
    _new_event(dash, "ffffffffffffffffffffffffffff9", "violence")
    at.run()
    assert [t.value for t in at.toast] == ["New violence event on cam-a"]
    assert any("3 events waiting for review" in h.value for h in at.subheader)
    at.run()
    assert not at.toast, "each new event is announced once"


def test_a_camera_that_loses_its_picture_is_announced_once(dash: Dashboard) -> None:
    assert dash.live is not None
    at = dash.app().run()
    assert not at.exception, at.exception
    assert not at.toast, "cam-b was already down when the page opened"
    at.sidebar.button(key="alert_sound_button").click().run()
    builders.set_worker(dash.live, state="reconnecting", source_error="connection reset")
    builders.heartbeat(dash.live)
    at.run()
    assert [t.value for t in at.toast] == [
        "Camera Front desk (cam-a) lost its picture: reconnecting"
    ]
    scripts = _alert_scripts(at)
    assert len(scripts) == 1 and "i < 2" in scripts[0]
    at.run()
    assert not at.toast and not _alert_scripts(at), "announced once"
    builders.set_worker(dash.live, state="running", source_error="")
    at.run()
    dash.live.table.update_manager(0, state="stopped")  # someone stopped it: not a loss
    at.run()
    assert not at.toast


def test_a_tampered_camera_says_so_on_its_card(dash: Dashboard) -> None:
    assert dash.live is not None
    note = tampered_note("covered", 1_800_000_000.0)
    # the worker says it in explicit fields; the card composes the note
    builders.set_worker(
        dash.live, state="running", tamper_reason="covered", tamper_since_ts=1_800_000_000.0
    )
    builders.heartbeat(dash.live)
    at = dash.app().run()
    assert not at.exception, at.exception
    assert [w.value for w in at.warning if TAMPERED_NOTE in w.value.lower()] == [note.capitalize()]
    assert not any(note in c.value for c in at.caption), "a warning, not a caption"


def _alert_scripts(at: AppTest) -> list[str]:
    return [str(e.proto.body) for e in at.get("html") if "AudioContext" in str(e.proto.body)]


def test_with_the_sound_on_a_new_event_beeps_once(dash: Dashboard) -> None:
    at = dash.app().run()
    assert not at.exception, at.exception
    at.sidebar.button(key="alert_sound_button").click().run()
    assert "on" in at.sidebar.button(key="alert_sound_button").label
    assert _alert_scripts(at) == [], "nothing is new when the sound is switched on"
    _new_event(dash, "ffffffffffffffffffffffffffff8", "fire")
    at.run()
    scripts = _alert_scripts(at)
    assert len(scripts) == 1 and "i < 3" in scripts[0], "three beeps for a fire"
    at.run()
    assert _alert_scripts(at) == [], "each new event beeps once"
    at.sidebar.button(key="alert_sound_button").click().run()
    assert "off" in at.sidebar.button(key="alert_sound_button").label
    _new_event(dash, "ffffffffffffffffffffffffffff9", "cash")
    at.run()
    assert [t.value for t in at.toast] == ["New cash event on cam-a"]
    assert _alert_scripts(at) == [], "silent when switched off"


def test_a_click_on_a_table_row_selects_that_event_once() -> None:
    at = AppTest.from_string("""
import streamlit as st
from types import SimpleNamespace
from cashwatch.dashboard.events_view import follow_table_click
ids = ["e1", "e2", "e3"]
picked = SimpleNamespace(selection=SimpleNamespace(rows=st.session_state.get("rows", [])))
follow_table_click(picked, ids)
st.selectbox("Event", ids, key="ev_selected")
""").run()
    assert at.selectbox(key="ev_selected").value == "e1"
    at.session_state["rows"] = [2]
    assert at.run().selectbox(key="ev_selected").value == "e3", "the clicked row"
    at.selectbox(key="ev_selected").select("e2").run()
    assert at.selectbox(key="ev_selected").value == "e2", "the same click does not win again"
    at.session_state["rows"] = []  # the row clicked off ...
    at.run()
    at.session_state["rows"] = [2]  # ... and on again: selects it again
    assert at.run().selectbox(key="ev_selected").value == "e3"


def test_the_tables_selection_lives_only_as_long_as_its_rows() -> None:
    """A selection is a row position: new events at the top must not turn it into a
    click on another event, so the table's key changes with its rows."""
    assert table_key(["e3", "e2", "e1"]) == table_key(["e3", "e2", "e1"])
    assert table_key(["e4", "e3", "e2", "e1"]) != table_key(["e3", "e2", "e1"])


def test_events_newer_than_the_list_are_counted(dash: Dashboard) -> None:
    now = dt.datetime.now().astimezone()
    flt = data.EventFilter(start=now - dt.timedelta(days=1), end=now + dt.timedelta(hours=1))
    events = data.list_events(dash.data_dir, flt)
    newest = events["started_at"].max()
    assert data.count_newer(dash.data_dir, flt, newest) == 0
    with duckdb.connect(str(dash.data_dir / "cashwatch.duckdb")) as conn:
        conn.execute(
            "INSERT INTO events (event_id, camera_id, site, event_type, started_at, "
            "confidence, model) VALUES ('later', 'cam-a', 'lobby', 'fire', now(), "
            "0.5, 'x')"
        )
    assert data.count_newer(dash.data_dir, flt, newest) == 1
    assert data.count_newer(dash.data_dir, flt, None) == len(events) + 1
    office_only = dataclasses.replace(flt, allowed_sites=("office",))
    assert data.count_newer(dash.data_dir, office_only, newest) == 0, "the account's sites only"


def test_reviewing_the_newest_does_not_announce_older_events_as_new(dash: Dashboard) -> None:
    with duckdb.connect(str(dash.data_dir / "cashwatch.duckdb")) as conn:
        for index in range(8):
            conn.execute(
                "INSERT INTO events (event_id, camera_id, site, event_type, started_at, "
                "ingested_at, confidence, model) VALUES (?, 'cam-a', 'lobby', 'fire', "
                "now() - to_minutes(?), now() - to_minutes(?), 0.5, 'x')",
                [f"old-{index}", 10 + index, 10 + index],
            )
    at = dash.app().run()
    assert not at.toast
    with duckdb.connect(str(dash.data_dir / "cashwatch.duckdb")) as conn:
        conn.execute(
            "UPDATE events SET review_status = 'confirmed' "
            "WHERE event_id IN (?, 'office-evt-1', 'old-0')",
            [EVENT_ID],
        )
    at.run()
    assert not at.toast, [t.value for t in at.toast]


def test_a_period_that_ends_now_keeps_ending_now() -> None:
    """The "new events" notice of a page left open overnight counts with the period as
    of now, not as of when the list was drawn."""
    at = AppTest.from_string("""
import datetime as dt
import streamlit as st
from cashwatch.dashboard import data
from cashwatch.dashboard.events_view import still_open
drawn = dt.datetime.now().astimezone() - dt.timedelta(hours=3)
flt = data.EventFilter(start=drawn - dt.timedelta(days=7), end=drawn + dt.timedelta(hours=1))
st.write(str(still_open(flt).end > dt.datetime.now().astimezone()))
st.write(str(still_open(flt).start == flt.start))
""").run()
    assert [m.value for m in at.markdown] == ["True", "True"]
    at.session_state["ev_recent"] = "Dates…"
    assert [m.value for m in at.run().markdown] == ["False", "True"], "exact dates stay"
