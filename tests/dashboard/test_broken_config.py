"""A config file that stops loading: the pages keep the last good one, and write nothing."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.dashboard.builders import EVENT_ID
from tests.dashboard.conftest import Dashboard

BANNER = "The configuration cannot be loaded"


def _break(config: Path) -> str:
    """The review's typo: `[model]` spelt `[modle]`. Returns the good text."""
    good = config.read_text()
    config.write_text(good + '\n[modle]\nbackend = "onnx"\n')
    return good


def _banners(at: AppTest) -> list[str]:
    return [e.value for e in at.error if BANNER in e.value]


def test_live_keeps_its_frames_under_a_banner_naming_the_problem(dash: Dashboard) -> None:
    at = dash.page("pages/live.py")
    assert not _banners(at)
    _break(dash.config_path)
    at.run()
    assert not at.exception, at.exception
    (banner,) = _banners(at)  # once: the router does not draw it as well
    assert "modle" in banner and "last configuration that loaded" in banner
    assert at.title[0].value == "Live"
    assert len(at.image) == 1 and "frame 42" in str(at.image[0].proto.imgs[0].caption)


def test_events_stay_browsable_and_the_banner_goes_once_fixed(dash: Dashboard) -> None:
    at = dash.page("pages/events.py")
    good = _break(dash.config_path)
    at.run()
    assert not at.exception, at.exception
    assert len(_banners(at)) == 1
    assert EVENT_ID in set(at.dataframe[0].value["event_id"])
    assert at.multiselect(key="ev_cams").options == ["cam-a", "cam-b"]
    dash.config_path.write_text(good)
    at.run()
    assert not _banners(at)


def test_overview_cards_stay_and_their_buttons_write_nothing(dash: Dashboard) -> None:
    at = dash.app().run()
    _break(dash.config_path)
    broken = dash.config_path.read_text()
    at.run()
    assert not at.exception, at.exception
    assert len(_banners(at)) == 1
    assert "Front desk" in "\n".join(m.value for m in at.markdown)
    at.button(key="stop_cam-a").click().run()
    assert any(
        "Stop cam-a failed: the config file cannot be loaded" in e.value for e in at.error
    ), [e.value for e in at.error]
    assert dash.config_path.read_text() == broken


def test_cameras_page_refuses_to_edit_a_file_that_does_not_load(dash: Dashboard) -> None:
    at = dash.page("pages/cameras.py")
    at.selectbox(key="cam_choice").select("cam-a").run()
    _break(dash.config_path)
    broken = dash.config_path.read_text()
    at.run()
    assert not at.exception, at.exception
    assert len(_banners(at)) == 1
    assert any("cannot be changed here" in w.value for w in at.warning)
    assert not at.get("form") and not at.button
    assert dash.config_path.read_text() == broken


def test_without_a_config_that_ever_loaded_the_dashboard_stops(dash: Dashboard) -> None:
    _break(dash.config_path)  # before this process ever loaded this file
    at = dash.app().run()
    assert not at.exception, at.exception
    (banner,) = _banners(at)
    # nobody is signed in and AppTest's visitor is not provably local: where to look,
    # not the reason, which can name paths and camera sources
    assert "run `cashwatch check`" in banner and "modle" not in banner
    assert "last configuration" not in banner
    assert not at.title and not at.markdown
