"""The alert targets on the System page (a failing one said in red, by name) and the
Overview's control to suspend a camera's alerts, which leaves a request for the manager."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from cashwatch.alerts.state import TargetState, write_state, write_suspended
from cashwatch.alerts.summary import local_time
from cashwatch.auth import UserStore
from cashwatch.dashboard.alerts_view import NO_TARGETS_HINT
from cashwatch.manager.requests import take_requests
from tests.dashboard.conftest import PASSWORD, Dashboard, shown

ALERTS = """
[[alerts]]
name = "ops"
kind = "webhook"
url = "https://hooks.example/cashwatch"

[[alerts]]
name = "ha"
kind = "mqtt"
host = "broker.local"

[[alerts]]
name = "bad"
kind = "email"
smtp_host = "mail.local"
to = ["not-an-address"]
"""


def _with_targets(dash: Dashboard) -> None:
    dash.config_path.write_text(dash.config_path.read_text() + ALERTS, encoding="utf-8")


def _alert_texts(at: AppTest, kind: str) -> list[str]:
    return [shown(str(e.value)) for e in getattr(at, kind) if "Alert" in str(e.value)]


def test_without_targets_the_system_page_only_points_at_the_docs(dash: Dashboard) -> None:
    at = dash.page("pages/system.py")
    assert not at.exception, at.exception
    assert NO_TARGETS_HINT in [c.value for c in at.caption]
    assert "Alert targets" not in [h.value for h in at.subheader]


def test_the_system_page_lists_targets_and_flags_the_failing_one(dash: Dashboard) -> None:
    _with_targets(dash)
    sent = time.time() - 60
    write_state(
        dash.data_dir,
        [
            TargetState(
                "ops",
                "webhook",
                pending=5,
                failed_total=9,
                failing=True,
                last_error="HTTP 503 from hooks.example",
            ),
            TargetState("ha", "mqtt", sent_total=3, last_sent_ts=sent),
        ],
    )
    at = dash.page("pages/system.py")
    assert not at.exception, at.exception
    assert "Alert targets" in [h.value for h in at.subheader]
    [table] = [df.value for df in at.dataframe if "kind" in df.value.columns]
    rows = table.set_index("name")
    assert rows.loc["ops", "status"] == "failing" and rows.loc["ops", "pending"] == 5
    assert rows.loc["ha", "status"] == "ok" and rows.loc["ha", "last sent"] == local_time(sent)
    errors = _alert_texts(at, "error")
    assert errors == ["Alert target ops (webhook) is failing: HTTP 503 from hooks.example"]
    [broken] = _alert_texts(at, "warning")
    assert broken.startswith("Alert entry left out of the config: bad:")
    assert "not an e-mail address" in broken


def test_an_operator_of_one_site_sees_that_a_target_fails_but_not_why(dash: Dashboard) -> None:
    _with_targets(dash)
    write_state(
        dash.data_dir, [TargetState("ops", "webhook", failing=True, last_error="mx.example down")]
    )
    UserStore(dash.data_dir).add("olga", PASSWORD, "operator", ["lobby"])
    dash.signed_in_as = "olga"
    at = dash.page("pages/system.py")
    assert not at.exception, at.exception
    assert _alert_texts(at, "error") == ["Alert target ops (webhook) is failing"]
    [table] = [df.value for df in at.dataframe if "kind" in df.value.columns]
    assert "last error" not in table.columns
    assert "mx.example" not in "".join(_alert_texts(at, "warning"))


def test_suspending_a_camera_s_alerts_leaves_a_request_for_the_manager(dash: Dashboard) -> None:
    _with_targets(dash)
    at = dash.app().run()
    assert not at.exception, at.exception
    assert at.button(key="suspend_alerts_cam-b"), "each card has its own control"
    at.selectbox(key="suspend_for_cam-a").select("1 h").run()
    before = time.time()
    at.button(key="suspend_alerts_cam-a").click().run()
    assert not at.exception, at.exception
    [request] = take_requests(dash.data_dir)
    assert request["action"] == "suspend_alerts" and request["camera_id"] == "cam-a"
    assert before + 3600 <= float(str(request["until"])) <= time.time() + 3600


def test_a_suspended_camera_says_until_when_and_can_be_resumed(dash: Dashboard) -> None:
    _with_targets(dash)
    until = time.time() + 900
    write_suspended(dash.data_dir, {"cam-a": until})
    at = dash.app().run()
    assert not at.exception, at.exception
    captions = [shown(c.value) for c in at.caption]
    assert any(f"Alerts suspended until {local_time(until)}" in c for c in captions), captions
    assert not any(b.key == "resume_alerts_cam-b" for b in at.button), "cam-b is not suspended"
    before = time.time()
    at.button(key="resume_alerts_cam-a").click().run()
    [request] = take_requests(dash.data_dir)
    assert request["camera_id"] == "cam-a" and before <= float(str(request["until"])) <= time.time()


def test_only_who_may_control_cameras_sees_the_control(dash: Dashboard) -> None:
    _with_targets(dash)
    write_suspended(dash.data_dir, {"cam-a": time.time() + 900})
    UserStore(dash.data_dir).add("olga", PASSWORD, "operator")
    dash.signed_in_as = "olga"
    at = dash.app().run()
    assert not at.exception, at.exception
    keys = {b.key for b in at.button} | {s.key for s in at.selectbox}
    assert not any(str(k).startswith(("suspend_", "resume_")) for k in keys), keys
    assert any("Alerts suspended until" in shown(c.value) for c in at.caption)


def test_without_a_choice_a_suspension_lasts_30_minutes(dash: Dashboard) -> None:
    _with_targets(dash)
    at = dash.app().run()
    before = time.time()
    at.button(key="suspend_alerts_cam-b").click().run()
    assert not at.exception, at.exception
    [request] = take_requests(dash.data_dir)
    assert request["camera_id"] == "cam-b"
    assert before + 1800 <= float(str(request["until"])) <= time.time() + 1800
