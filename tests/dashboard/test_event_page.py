"""The Events page opens on an event whose clip plays, lets a recording one be picked on
purpose (snapshot, state, countdown), and shows what the rule measured as labelled
values, the raw JSON folded away."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import Any

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.builders import EVENT_ID
from tests.dashboard.conftest import Dashboard, shown

RECORDING = "recording-1"


def _sql(dash: Dashboard, query: str, params: list[Any]) -> None:
    with duckdb.connect(str(dash.data_dir / "cashwatch.duckdb")) as conn:
        conn.execute(query, params)


def _add_recording_event(dash: Dashboard, age_s: float = 5.0, ended_s: float | None = None) -> None:
    """A newer event on cam-a whose clip is still on its way: no clip path, no error;
    ended `ended_s` after it started, or going on still."""
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age_s)
    ended = None if ended_s is None else started + dt.timedelta(seconds=ended_s)
    _sql(
        dash,
        "INSERT INTO events (event_id, camera_id, site, event_type, started_at, "
        "ended_at, confidence, details, snapshot_path, model) "
        "SELECT ?, 'cam-a', 'lobby', 'violence', ?, ?, 0.9, ?, snapshot_path, 'x' "
        "FROM events WHERE event_id = ?",
        [
            RECORDING,
            started,
            ended,
            json.dumps({"method": "learned", "score": 0.83, "tracks": [3, 7], "hits": 5}),
            EVENT_ID,
        ],
    )


def _texts(at: AppTest) -> str:
    """What a reader sees: bold markers dropped, Markdown escapes undone."""
    parts = [*at.markdown, *at.caption, *at.info, *at.warning]
    return shown(re.sub(r"(?<!\\)\*\*", "", "\n".join(str(e.value) for e in parts)))


def test_the_page_opens_on_the_newest_event_whose_clip_is_ready(dash: Dashboard) -> None:
    _add_recording_event(dash)
    at = dash.page("pages/events.py")
    assert not at.exception, at.exception
    assert at.dataframe[0].value["event_id"].iloc[0] == RECORDING, "the newest is listed first"
    assert at.selectbox(key="ev_selected").value == EVENT_ID, "opened on the one with a clip"
    assert len(at.get("video")) == 1
    assert not any("still being recorded" in i.value for i in at.info)
    # the recording ones (this and the history's fire event, a minute old without a clip)
    # are marked in the list and counted in a caption
    label = at.selectbox(key="ev_selected").format_func(RECORDING)
    assert label.endswith("clip still recording")
    assert "2 events' clips are still being recorded" in _texts(at)


def test_a_recording_event_picked_on_purpose_shows_snapshot_state_and_countdown(
    dash: Dashboard,
) -> None:
    _add_recording_event(dash, age_s=5.0)
    at = dash.page("pages/events.py")
    at.selectbox(key="ev_selected").select(RECORDING).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="ev_selected").value == RECORDING, "the choice stands"
    info = " ".join(i.value for i in at.info)
    assert "still being recorded" in info and "Going on for" in info
    assert "appears by" in info and "at the latest" in info
    assert not at.get("video")
    assert len(at.image) == 1, "the snapshot, while there is no clip"
    # the clip is stored: the next draw plays it, and the choice still stands
    _sql(
        dash,
        "UPDATE events SET clip_path = (SELECT clip_path FROM events WHERE event_id = ?),"
        " ended_at = now() WHERE event_id = ?",
        [EVENT_ID, RECORDING],
    )
    at.run()
    assert at.selectbox(key="ev_selected").value == RECORDING
    assert len(at.get("video")) == 1


def test_a_post_roll_counts_down_to_the_clip(dash: Dashboard) -> None:
    _add_recording_event(dash, age_s=3.0, ended_s=1.0)  # post-roll: 10 s after the end
    at = dash.page("pages/events.py")
    at.selectbox(key="ev_selected").select(RECORDING).run()
    info = " ".join(i.value for i in at.info)
    assert "The event is over; its clip records 10 s past the end" in info
    seconds = float(info.split("in about ")[1].split(" s")[0])
    assert 5.0 <= seconds <= 8.5, info


def test_with_only_recording_events_the_page_opens_on_the_newest(dash: Dashboard) -> None:
    _add_recording_event(dash)
    _sql(dash, "DELETE FROM events WHERE event_id <> ?", [RECORDING])
    at = dash.page("pages/events.py")
    assert at.selectbox(key="ev_selected").value == RECORDING
    assert any("still being recorded" in i.value for i in at.info)


CASH_DETAILS = {
    "staff_track": 3,
    "customer_track": 7,
    "staff_box": [1.0, 2.0, 3.0, 4.0],
    "customer_box": [5.0, 6.0, 7.0, 8.0],
    "staff_wrist": [10.0, 20.0],
    "customer_wrist": [50.0, 22.0],
    "wrist_distance_px": 41.6,
    "wrist_distance_body": 0.349,
    "hits": 4,
    "window": 6,
    "frame_wh": [1280, 720],
}


@pytest.mark.parametrize(
    ("event_type", "details", "expected"),
    [
        (
            "cash",
            CASH_DETAILS,
            [
                "Who met whom: staff #3 and customer #7",
                "Wrist distance: 42 px (0.35 body sizes)",
                "Meetings: 4 of the last 6 detections",
                "Last meeting: ",
            ],
        ),
        (
            "violence",
            {
                "tracks": [2, 5],
                "boxes": [[0, 0, 1, 1], [1, 1, 2, 2]],
                "method": "pose",
                "limb_speed": 2.345,
                "duration_s": 3.21,
            },
            [
                "Who: person #2 and person #5",
                "Detected by: pose: limb speed",
                "Limb speed: 2.35 body sizes/s",
                "Fight lasted: 3.2 s",
            ],
        ),
        (
            "violence",
            {"tracks": [2, 5], "method": "learned", "score": 0.834, "hits": 5},
            ["Score: 0.83 (0 to 1)", "Hits: 5 recent detections over the threshold"],
        ),
        (
            "violence",
            {"tracks": [2, 5], "method": "verified", "score": 0.91, "trigger": "pair"},
            [
                "Detected by: verified: the video around the people",
                "Score: 0.91 (0 to 1)",
                "Looked at because: pair: two people close",
            ],
        ),
        (
            "violence",
            {"method": "pose", "verifier": "unavailable: inference-0 is down"},
            ["Video verifier: unavailable: inference-0 is down"],
        ),
        (
            "fire",
            {"area": 0.0321, "flicker": 0.456, "growth": 1.8, "evidence_share": 0.9},
            [
                "Flame-coloured area: 3.2 % of the frame",
                "Flicker: 46 % of those pixels",
                "Growth: ×1.8",
                "Evidence: 90 % of recent frames",
            ],
        ),
        (
            "tamper",
            {
                "reason": "covered",
                "blocked": 0.92,
                "scene_match": 0.05,
                "sharpness": 0.12,
                "evidence_share": 1.0,
            },
            [
                "Reason: covered: most of the view lost its detail",
                "Blocked: 92 % of the usual view",
                "Scene match: 5.0 % of the usual view's edges",
                "Sharpness: ×0.12 the usual",
            ],
        ),
    ],
)
def test_details_are_labelled_values_with_units(
    dash: Dashboard, event_type: str, details: dict[str, Any], expected: list[str]
) -> None:
    if "staff_track" in details:  # a meeting a second before the trigger
        started = time.time() - 60
        details = {**details, "met_at": started - 1.0}
        _sql(
            dash,
            "UPDATE events SET started_at = to_timestamp(?) WHERE event_id = ?",
            [started, EVENT_ID],
        )
    _sql(
        dash,
        "UPDATE events SET event_type = ?, details = ? WHERE event_id = ?",
        [event_type, json.dumps(details), EVENT_ID],
    )
    at = dash.page("pages/events.py")
    assert not at.exception, at.exception
    text = _texts(at)
    for line in expected:
        assert line in text, text
    assert "1.0 s before the detection" in text or "staff_track" not in details
    assert "[1.0, 2.0" not in text, "coordinates are for the raw JSON, not the reviewer"
    raw = [e for e in at.expander if e.label == "Raw event data (JSON)"]
    assert len(raw) == 1 and json.loads(raw[0].json[0].value)["details"] == details


def test_unknown_detail_keys_are_shown_as_text(dash: Dashboard) -> None:
    """A key no label knows (a newer rule) is still shown, named from its key, and its
    value is text: Markdown in it draws nothing."""
    markdown = "![x](http://127.0.0.1:9/p.png) **loud**"
    _sql(
        dash,
        "UPDATE events SET details = ? WHERE event_id = ?",
        [json.dumps({"hold_s": 2.25, "gap_px": 3, "note": markdown}), EVENT_ID],
    )
    at = dash.page("pages/events.py")
    text = _texts(at)
    assert "Hold: 2.2 s" in text and "Gap: 3 px" in text and f"Note: {markdown}" in text
    sources = "\n".join(str(m.value) for m in at.markdown)
    assert "![x](" not in sources and "**loud**" not in sources


def test_an_alert_link_opens_its_event_once(dash: Dashboard) -> None:
    """`/events?event=<id>`, the link in every alert, opens that event; once: the
    operator's own pick counts after that."""
    _add_recording_event(dash)
    at = dash.app().run()
    at.query_params["event"] = RECORDING
    at = at.switch_page("pages/events.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="ev_selected").value == RECORDING
    at.selectbox(key="ev_selected").select(EVENT_ID).run()
    assert at.selectbox(key="ev_selected").value == EVENT_ID, "the link does not take it back"

    at = dash.app().run()
    at.query_params["event"] = "no-such-event"
    at = at.switch_page("pages/events.py").run()
    assert "No event no-such-event that this account may see." in _texts(at)
