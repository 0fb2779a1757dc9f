"""The dashboard against a real `cashwatch run` on file cameras from ../shared/media."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cashwatch.auth import UserStore
from cashwatch.config import load_config
from cashwatch.store import db
from tests.conftest import require_media
from tests.dashboard import builders
from tests.dashboard.conftest import APP, REPO, signed_in
from tests.harness import ManagerProcess, camera_entry, wait_for, write_config

pytestmark = pytest.mark.slow


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ManagerProcess]:
    video = require_media("video/w1_indoor_people_one_by_one__intel.mp4")
    config = write_config(
        tmp_path / "cashwatch.toml", [camera_entry("cam-a", video, site="lobby", name="Front desk")]
    )
    builders.create_history(tmp_path)  # an event with a clip, as an earlier run left it
    UserStore(tmp_path).add("ada", "correct horse battery", "admin")
    monkeypatch.setenv("CASHWATCH_CONFIG", str(config))
    monkeypatch.chdir(REPO)
    with ManagerProcess(config) as manager:
        manager.wait_state("cam-a", "running")
        yield manager


def _app(data_dir: Path) -> AppTest:
    # AppTest has no browser, so no request is provably local: sign in as an admin
    return signed_in(AppTest.from_file(str(APP), default_timeout=30), data_dir, "ada")


def _card_state(at: AppTest) -> str:
    return "\n".join(str(b.proto) for b in at.get("badge")) + "\n".join(
        m.value for m in at.markdown
    )


def test_cards_follow_the_manager_and_stop_start_reach_the_worker(running: ManagerProcess) -> None:
    at = _app(running.data_dir).run()
    assert not at.exception, at.exception
    assert not at.warning  # the manager is up: no offline banner
    wait_for(lambda: running.worker("cam-a")["frames_processed"] > 0, 20, "frames processed")
    at.run()
    frames = [m.value for m in at.metric if m.label == "Frames"]
    assert len(frames) == 1 and frames != ["0"], frames

    at.button(key="stop_cam-a").click().run()
    assert load_config(running.config).camera("cam-a").enabled is False
    running.wait_state("cam-a", "stopped")
    wait_for(lambda: "stopped" in _card_state(at.run()), 10, "the card to show stopped")

    at.button(key="start_cam-a").click().run()
    running.wait_state("cam-a", "running")
    wait_for(lambda: "running" in _card_state(at.run()), 10, "the card to show running")


def test_live_page_shows_the_workers_frame(running: ManagerProcess) -> None:
    at = _app(running.data_dir).run()
    at.switch_page("pages/live.py").run()
    wait_for(lambda: at.run().image, 20, "a live frame")
    assert "s old" in str(at.image[0].proto.imgs[0].caption)


def test_a_review_reaches_the_database_through_the_manager(running: ManagerProcess) -> None:
    at = _app(running.data_dir).run()
    at.switch_page("pages/events.py").run()
    assert at.selectbox(key="ev_selected").value == builders.EVENT_ID
    assert len(at.get("video")) == 1
    at.button(key="ev_false").click().run()
    assert not at.exception, at.exception
    # the page redrawn after the click already shows the stored verdict, not "pending"
    assert any(s.value.startswith("Marked cash on cam-a false positive.") for s in at.success), [
        s.value for s in at.success
    ]
    assert "false_positive" in at.selectbox(key="ev_selected").format_func(builders.EVENT_ID)
    # and the next event still waiting is selected, ready for its verdict
    assert at.selectbox(key="ev_selected").value == "office-evt-1"

    def stored() -> bool:
        with db.connect_readonly(running.data_dir) as conn:
            row = conn.execute(
                "SELECT review_status FROM events WHERE event_id = ?", [builders.EVENT_ID]
            ).fetchone()
        return row is not None and row[0] == "false_positive"

    wait_for(stored, 20, "the manager to ingest the review")
