"""The System page shows no camera source to an account that may not edit cameras: a
source names a recorder's address, a stream path or a file, which only admins see."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from cashwatch.auth import UserStore
from tests.dashboard.conftest import PASSWORD, Dashboard

# what the published records' sources are made of (tests/dashboard/builders.publish_live)
SOURCE_PIECES = ("10.0.0.9", "/stream", "/videos/a.mp4", "a.mp4")


def _page_text(at: AppTest) -> str:
    """Everything the page drew as text: tables, messages, captions, code, metrics."""
    pieces = [df.value.to_string() for df in at.dataframe]
    for kind in ("markdown", "caption", "code", "error", "warning", "info", "title",
                 "subheader", "text"):
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
