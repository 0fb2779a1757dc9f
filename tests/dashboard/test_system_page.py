"""The System page shows no camera source to an account that may not edit cameras: a
source names a recorder's address, a stream path or a file, which only admins see. An
admin reads the manager's log whole or one process' lines (the manager's, a camera's)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from cashwatch.auth import UserStore
from tests.dashboard.conftest import PASSWORD, Dashboard

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
