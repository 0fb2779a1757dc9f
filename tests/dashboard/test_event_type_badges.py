"""The Overview shows each event type with the table's icon, badge colour and beeps, and an
old row's unknown type plainly."""

from __future__ import annotations

import duckdb
from streamlit.testing.v1 import AppTest

from cashwatch.core.event_types import event_type
from tests.dashboard.conftest import Dashboard


def _new_event(dash: Dashboard, event_id: str, kind: str) -> None:
    with duckdb.connect(str(dash.data_dir / "cashwatch.duckdb")) as conn:
        conn.execute(
            "INSERT INTO events (event_id, camera_id, site, event_type, started_at, "
            "confidence, model) VALUES (?, 'cam-a', 'lobby', ?, now(), 0.8, 'x')",
            [event_id, kind],
        )


def _badges(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "-badge[" in m.value]


def _beeps(at: AppTest) -> list[str]:
    return [str(e.proto.body) for e in at.get("html") if "AudioContext" in str(e.proto.body)]


def test_a_new_event_is_badged_toasted_and_beeped_as_its_type_says(dash: Dashboard) -> None:
    at = dash.app().run()
    assert not at.exception, at.exception
    at.sidebar.button(key="alert_sound_button").click().run()
    tamper = event_type("tamper")
    _new_event(dash, "ffffffffffffffffffffffffffff7", "tamper")
    at.run()
    assert [(t.value, t.icon) for t in at.toast] == [("New tamper event on cam-a", tamper.icon)]
    assert f":{tamper.badge}-badge[{tamper.icon} tamper]" in _badges(at)
    scripts = _beeps(at)
    assert len(scripts) == 1 and f"i < {tamper.alert_beeps}" in scripts[0]


def test_an_old_rows_unknown_type_shows_plainly(dash: Dashboard) -> None:
    at = dash.app().run()
    assert not at.exception, at.exception
    at.sidebar.button(key="alert_sound_button").click().run()
    _new_event(dash, "ffffffffffffffffffffffffffff6", "loitering")
    at.run()
    assert not at.exception, at.exception
    assert [(t.value, t.icon) for t in at.toast] == [("New loitering event on cam-a", "")]
    assert ":gray-badge[loitering]" in _badges(at)
    scripts = _beeps(at)
    assert len(scripts) == 1 and "i < 1" in scripts[0]
