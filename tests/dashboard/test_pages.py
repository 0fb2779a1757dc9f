"""Every page renders from real state; the Events, Live, SQL and Cameras behaviours."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from cashwatch.config import load_config
from tests.dashboard.builders import EVENT_ID
from tests.dashboard.conftest import Dashboard

PAGES = ["pages/live.py", "pages/events.py", "pages/cameras.py", "pages/system.py",
         "pages/sql.py"]


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
    lines = [json.loads(line) for path in (dash.data_dir / "journal" / "_review").glob("*.jsonl")
             for line in path.read_text().splitlines()]
    assert lines == [lines[0]] and lines[0]["event_id"] == EVENT_ID
    assert lines[0]["review_status"] == "confirmed"
    assert lines[0]["notes"] == "cash went to the till"


def test_live_page_shows_the_latest_frame_with_its_age(dash: Dashboard) -> None:
    at = dash.page("pages/live.py")
    assert len(at.image) == 1  # cam-a has a frame; cam-b (error) has none
    assert "frame 42" in str(at.image[0].proto.imgs[0].caption)
    assert any("no live frame (error)" in i.value for i in at.info)


def test_sql_page_refuses_a_delete(dash: Dashboard) -> None:
    at = dash.page("pages/sql.py")
    at.text_area(key="sql_query").input("DELETE FROM events")
    at.button(key="sql_run").click().run()
    assert any("DELETE statements are refused" in e.value for e in at.error)
    at.text_area(key="sql_query").input(
        "WITH x AS (SELECT 1) SELECT event_type, count(*) AS n FROM events GROUP BY 1")
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
    at.number_input(key="camera_form_cam-a.cooldown_s").set_value(42.0)
    at.button(key="FormSubmitter:camera_form_cam-a-Save camera").click().run()
    assert not at.exception, at.exception
    camera = load_config(dash.config_path).camera("cam-a")
    assert camera.cooldown_s == 42.0
    assert camera.source.endswith("a.mp4")  # an empty source field keeps the source


def test_cameras_page_saves_zones_entered_as_points(dash: Dashboard) -> None:
    at = dash.page("pages/cameras.py")
    at.selectbox(key="cam_choice").select("cam-a").run()
    at.session_state["zone_points_cam-a"] = {
        "cashier": [[0.6, 0.0], [1.0, 0.0], [1.0, 1.0]], "counter": [], "drawer": []}
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
