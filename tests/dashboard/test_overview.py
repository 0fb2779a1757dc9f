"""Overview page: cards from live shared memory, controls that edit the config."""

from __future__ import annotations

import re

from cashwatch.auth import UserStore
from cashwatch.config import load_config
from tests.dashboard.conftest import PASSWORD, Dashboard

MARKDOWN_NAME = "![pixel](http://127.0.0.1:9/p.png) [click](http://127.0.0.1:9/) **loud**"


def _sources(at) -> str:
    """The Markdown as the page sent it (escapes and all)."""
    return "\n".join(str(e.value) for e in [*at.markdown, *at.caption, *at.error, *at.warning])


def _texts(at) -> str:
    """The text a reader sees: Markdown escapes undone."""
    return re.sub(r"\\(.)", r"\1", _sources(at))


def test_cards_show_the_cameras_and_their_numbers(dash: Dashboard) -> None:
    at = dash.app().run()
    assert not at.exception, at.exception
    text = _texts(at)
    assert "Front desk" in text and "Back office" in text
    processed = [(m.value, m.help) for m in at.metric if m.label == "Frames"]
    assert [value for value, _ in processed] == ["0", "1.23k"], (
        "the camera in error (cam-b) comes first; counts compact"
    )
    assert "1,234 frames processed" in processed[1][1], "the exact count in the help"
    assert "1h 02m" in [m.value for m in at.metric if m.label == "Uptime"]
    assert "hunter2" not in text  # credentials never shown
    assert "rtsp://admin:***@10.0.0.9/stream" in text
    assert "Last error" in text


def test_stop_changes_the_enabled_flag_in_the_config(dash: Dashboard) -> None:
    at = dash.app().run()
    at.button(key="stop_cam-a").click().run()
    assert not at.exception, at.exception
    assert load_config(dash.config_path).camera("cam-a").enabled is False
    assert at.button(key="start_cam-a").disabled is False
    at.button(key="start_cam-a").click().run()
    assert load_config(dash.config_path).camera("cam-a").enabled is True


def test_restart_writes_a_request_for_the_manager(dash: Dashboard) -> None:
    at = dash.app().run()
    at.button(key="restart_cam-a").click().run()
    requests = list((dash.data_dir / "requests").glob("*.json"))
    assert len(requests) == 1 and "cam-a" in requests[0].read_text()


def test_without_manager_a_banner_and_the_cameras_still_show(offline_dash: Dashboard) -> None:
    at = offline_dash.app().run()
    assert not at.exception, at.exception
    assert any("Manager offline" in w.value for w in at.warning)
    assert "Front desk" in _texts(at)


def test_a_rejected_camera_entry_is_explained_once_on_its_card(dash: Dashboard) -> None:
    with dash.config_path.open("a") as config:
        config.write(
            '\n[[cameras]]\nid = "cam-bad"\nsource = "/videos/c.mp4"\ndetection = { fps = -1 }\n'
        )
    loaded = load_config(dash.config_path)
    assert list(loaded.camera_errors) == ["cam-bad"]
    assert dash.live is not None  # as the manager does: the joined messages in the header
    dash.live.table.set_header(config_error="; ".join(loaded.camera_errors.values()))
    at = dash.app().run()
    assert not at.exception, at.exception
    message = loaded.camera_errors["cam-bad"]
    assert [e.value for e in at.error if message in re.sub(r"\\(.)", r"\1", e.value)] == [
        f"Config entry rejected: {message}"
    ]
    assert any("cam-bad" in str(w.value) for w in at.warning)
    assert "Front desk" in _texts(at)  # the good cameras still show


def test_camera_names_are_drawn_as_text_not_markdown(dash: Dashboard) -> None:
    """A camera name with Markdown would make every browser showing it fetch an image."""
    text = dash.config_path.read_text()
    dash.config_path.write_text(text.replace('name = "Front desk"', f'name = "{MARKDOWN_NAME}"'))
    at = dash.app().run()
    assert not at.exception, at.exception
    sources = _sources(at)
    assert MARKDOWN_NAME in _texts(at)  # shown, literally
    assert "![" not in sources and "](" not in sources.replace("\\](", "")
    assert "**loud**" not in sources


def test_camera_sources_are_shown_to_admins_only(dash: Dashboard) -> None:
    admin = dash.app().run()
    assert "/videos/a.mp4" in _texts(admin)
    assert "10.0.0.9" in _texts(admin)  # in cam-b's error, credentials masked
    UserStore(dash.data_dir).add("otto", PASSWORD, "operator")
    dash.signed_in_as = "otto"
    operator = dash.app().run()
    assert not operator.exception, operator.exception
    shown = _texts(operator)
    assert "Front desk" in shown and "cannot open <source hidden>" in shown
    assert "/videos/a.mp4" not in shown and "10.0.0.9" not in shown and "rtsp" not in shown
