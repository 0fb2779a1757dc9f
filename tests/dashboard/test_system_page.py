"""The System page shows no camera source to an account that may not edit cameras: a
source names a recorder's address, a stream path or a file, which only admins see. An
admin reads the manager's log whole or one process' lines (the manager's, a camera's, a
shared inference service's). The shared inference services are shown with their load."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from cashwatch.auth import UserStore
from cashwatch.dashboard.views.system import PER_CAMERA_MODELS
from tests.dashboard.builders import SERVICE_SECRET, publish_services
from tests.dashboard.conftest import PASSWORD, Dashboard, shown

# what the published records' sources are made of (tests/dashboard/builders.publish_live)
SOURCE_PIECES = ("10.0.0.9", "/stream", "/videos/a.mp4", "a.mp4")


def _page_text(at: AppTest) -> str:
    """Everything the page drew as text: tables, messages, captions, code, metrics."""
    pieces = [df.value.to_string() for df in at.dataframe]
    for kind in (
        "markdown",
        "caption",
        "code",
        "error",
        "warning",
        "info",
        "title",
        "subheader",
        "text",
    ):
        pieces += [str(element.value) for element in getattr(at, kind)]
    pieces += [f"{metric.label} {metric.value}" for metric in at.metric]
    return "\n".join(pieces)


def test_an_operator_sees_the_workers_but_no_source(dash: Dashboard) -> None:
    UserStore(dash.data_dir).add("olga", PASSWORD, "operator")
    dash.signed_in_as = "olga"
    at = dash.page("pages/system.py")
    assert not at.exception, at.exception
    text = _page_text(at)
    assert "cam-a" in text and "cam-b" in text, "the Workers table is there"
    assert [piece for piece in SOURCE_PIECES if piece in text] == [], text


def test_the_database_alert_is_shown_as_plain_text(dash: Dashboard) -> None:
    """The manager's reason quotes a file name or a driver's message: Markdown in it
    must not make browsers fetch an image nor draw a link."""
    assert dash.live is not None
    dash.live.table.set_header(db_error="cannot store to ![x](http://10.9.9.9/p.png)")
    at = dash.page("pages/system.py")
    assert not at.exception, at.exception
    alerts = [e.value for e in at.error if "Event database" in e.value]
    assert alerts == [r"Event database: cannot store to \!\[x\](http://10.9.9.9/p.png)"], alerts


MANAGER_LOG = """\
INFO started worker cam-a (a line of a log from before lines named their process)
2026-12-06 13:50:01,001 manager[100] cashwatch.manager INFO started cam-a (pid 201, core 1)
2026-12-06 13:50:01,500 camera:cam-a[201] cashwatch.worker INFO camera cam-a: worker started
2026-12-06 13:50:02,000 camera:cam-b[202] cashwatch.worker ERROR detection unavailable on cam-b
Traceback (most recent call last):
ValueError: no model
2026-12-06 13:50:03,000 camera:cam-a[201] cashwatch.worker INFO event e1 cash on cam-a
2026-12-06 13:50:04,000 manager[100] cashwatch.manager WARNING camera cam-b: restart in 1 s
"""


def test_the_manager_log_shows_one_process_lines_at_a_time(dash: Dashboard) -> None:
    log = dash.data_dir / "logs" / "manager.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text(MANAGER_LOG)
    at = dash.page("pages/system.py")
    assert not at.exception, at.exception
    choice = at.selectbox(key="system_log_origin")
    assert choice.options == ["all", "manager", "camera:cam-a", "camera:cam-b"]
    assert at.code[0].value == MANAGER_LOG.rstrip("\n"), "every line by default"
    shown = {}
    for origin in ("camera:cam-a", "camera:cam-b", "manager"):
        at = at.selectbox(key="system_log_origin").select(origin).run()
        assert not at.exception, at.exception
        shown[origin] = at.code[0].value.splitlines()
    assert shown["camera:cam-a"] == [
        line for line in MANAGER_LOG.splitlines() if "camera:cam-a[201]" in line
    ]
    assert shown["camera:cam-b"] == MANAGER_LOG.splitlines()[3:6], "with its traceback"
    assert shown["manager"] == [MANAGER_LOG.splitlines()[i] for i in (0, 1, 7)]


def _services_row(at: AppTest, name: str) -> dict[str, object]:
    (table,) = [df.value for df in at.dataframe if "service" in df.value.columns]
    (row,) = table[table["service"] == name].to_dict("records")
    return dict(row)


def test_the_inference_services_are_charted_and_tabled_with_their_errors(
    dash: Dashboard,
) -> None:
    at = dash.page("pages/system.py")
    assert not at.exception, at.exception
    assert [c.value for c in at.caption if "camera worker" in c.value] == [PER_CAMERA_MODELS]
    assert "Inference services" not in _page_text(at)

    services = publish_services(dash.data_dir)
    try:
        at.run()
    finally:
        services.close()
    assert not at.exception, at.exception
    assert "Inference services" in [h.value for h in at.subheader]
    assert PER_CAMERA_MODELS not in _page_text(at)
    row = _services_row(at, "inference-0")
    assert {k: row[k] for k in ("state", "device", "uptime", "restarts", "cameras")} == {
        "state": "running",
        "device": "cpu 0-1",
        "uptime": "111:06:40",
        "restarts": 2,
        "cameras": 12,
    }
    load = ("queue", "queue max", "batch mean", "batch max", "inference ms", "dropped", "failed")
    assert [row[k] for k in load] == [3, 11, 3.5, 12, 48.5, 17, 2]
    assert _services_row(at, "inference-1")["state"] == "error"
    charts = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert sum("Model ms per batch" in c or "Most requests waiting" in c for c in charts) == 2
    down = [shown(e.value) for e in at.error if "inference-1" in e.value]
    assert down == ["inference-1: exited with code 1: no model file; restarting in 8.0 s"]
    (crash,) = [shown(w.value) for w in at.warning if "inference-0" in w.value]
    assert crash.startswith("inference-0, last crash: exited with code -9"), crash
    assert "rtsp://admin:***@192.0.2.7/s" in crash, crash
    assert SERVICE_SECRET not in _page_text(at)


def test_an_operator_of_one_site_sees_the_services_load_but_no_crash_text(
    dash: Dashboard,
) -> None:
    """A crash's message may quote any site's camera; the table names none."""
    UserStore(dash.data_dir).add("otto", PASSWORD, "operator", ["lobby"])
    dash.signed_in_as = "otto"
    services = publish_services(dash.data_dir)
    try:
        at = dash.page("pages/system.py")
    finally:
        services.close()
    assert not at.exception, at.exception
    assert _services_row(at, "inference-0")["inference ms"] == 48.5
    assert _services_row(at, "inference-0")["video windows"] == 41
    assert "exited with code" not in _page_text(at)


SERVICE_LOG = """\
2026-12-06 13:50:01,001 manager[100] cashwatch.manager INFO started inference service 10
2026-12-06 13:50:01,500 inference:10[301] cashwatch.inference INFO loaded pose on cpu 20-21
2026-12-06 13:50:02,000 inference:2[302] cashwatch.inference ERROR batch failed
Traceback (most recent call last):
RuntimeError: bad input
2026-12-06 13:50:03,000 camera:cam-a[201] cashwatch.worker INFO camera cam-a: worker started
"""


def test_the_log_shows_a_services_lines_after_the_cameras(dash: Dashboard) -> None:
    log = dash.data_dir / "logs" / "manager.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text(SERVICE_LOG)
    at = dash.page("pages/system.py")
    assert not at.exception, at.exception
    choice = at.selectbox(key="system_log_origin")
    assert choice.options == ["all", "manager", "camera:cam-a", "inference:2", "inference:10"]
    at = choice.select("inference:2").run()
    assert not at.exception, at.exception
    assert at.code[0].value.splitlines() == SERVICE_LOG.splitlines()[2:5], "with its traceback"
