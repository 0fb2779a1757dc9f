"""End to end in headless Chromium: sign in, live numbers, stop/start, an event's clip.

Screenshots of every page go to test-artifacts/ and are copied to docs/screenshots/.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cashwatch.auth import UserStore
from cashwatch.config import load_config
from cashwatch.store.journal import JournalWriter
from tests.conftest import require_media
from tests.dashboard import builders
from tests.dashboard.conftest import PASSWORD, REPO
from tests.dashboard.offline_browser import (
    CHROMIUM,
    FLAGS,
    TIMEOUT_MS,
    free_port,
    require_chromium,
    screenshot,
    streamlit_server,
)
from tests.harness import ManagerProcess, camera_entry, write_config
from tests.store.builders import make_record

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CASHIER = [(0.2, 0.2), (0.6, 0.2), (0.6, 0.8)]


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    require_chromium()
    video = require_media("video/w1_indoor_people_one_by_one__intel.mp4")
    config = write_config(
        tmp_path / "cashwatch.toml",
        [
            camera_entry("cam-a", video, site="lobby", name="Front desk"),
            camera_entry(
                "cam-b",
                "rtsp://admin:hunter2@127.0.0.1:9/none",
                site="office",
                name="Back office",
                open_timeout_s=1.0,
            ),
        ],
        dashboard={"require_login": True},
    )
    builders.create_history(tmp_path)
    UserStore(tmp_path).add("ada", PASSWORD, "admin")
    port = free_port()
    env = dict(os.environ, CASHWATCH_CONFIG=str(config))
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    with (
        ManagerProcess(config),
        streamlit_server(
            command, cwd=REPO, env=env, port=port, log=tmp_path / "streamlit.log"
        ) as url,
    ):
        yield url, config


def _open_page(page, title: str, ready_text: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.get_by_text(ready_text).first.wait_for(timeout=TIMEOUT_MS)


def _draw_cashier_zone(page, config: Path) -> None:
    """Three clicks on the frame become the cashier zone, saved normalised 0..1."""
    for index, (x, y) in enumerate(CASHIER):
        canvas = page.locator(".vega-embed canvas").last
        box = canvas.bounding_box()  # the plot fills the canvas: no axes, no legend
        assert box is not None
        # a locator click waits until the redrawn chart is stable and receives events
        canvas.click(position={"x": x * box["width"], "y": y * box["height"]})
        # each click reruns the page with a fresh chart: wait for its point to count
        try:
            page.get_by_text(f"cashier: {index + 1} point").first.wait_for()
        except Exception:
            screenshot(page, f"zone-click-{index}-failed")
            raise
    page.get_by_role("button", name="Save zones").click()
    page.get_by_text("saved; the manager applies it").first.wait_for()
    saved = load_config(config).camera("cam-a").zones.cashier
    assert saved is not None and len(saved) == 3
    # The frame is drawn in data coordinates, so what a user clicks on is what is stored.
    # The canvas element is a little taller than Vega's plot area (Streamlit's layout), so
    # y measured from the element's box is only good to a few percent.
    for (x, y), (sx, sy) in zip(CASHIER, saved, strict=True):
        assert abs(x - sx) < 0.03 and abs(y - sy) < 0.07, saved


def test_sign_in_control_a_camera_and_play_a_clip(dashboard: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        # a laptop's screen: what the screenshots in docs/ show, and where cards get narrow
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        url, config = dashboard
        page.goto(url)
        page.get_by_role("textbox", name="User name").fill("ada")
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

        expect.set_options(timeout=TIMEOUT_MS)
        # .last: while a fragment redraws, the old card can linger beside the new one
        card = page.locator(".st-key-card_cam-a").last
        expect(card).to_contain_text("Front desk")
        # live numbers: the frame count grows between refreshes
        processed = card.locator('[data-testid="stMetric"]', has_text="Frames")
        expect(processed.last.locator('[data-testid="stMetricValue"]')).not_to_have_text("0")
        expect(card).to_contain_text("running")
        assert "hunter2" not in page.content()
        screenshot(page, "overview")

        # With the sound on, a new event is toasted and its alert script runs in the page
        page.get_by_role("button", name="Sound for new events: off").click()
        expect(page.get_by_role("button", name="Sound for new events: on")).to_be_visible()
        writer = JournalWriter(config.parent, "cam-a")
        # (an hour old, so the Events page below still opens the history's newest event)
        writer.emit_event(
            make_record(
                "fffffffffffff0000000000000001",
                camera_id="cam-a",
                event_type="violence",
                started_at=time.time() - 3600,
            )
        )
        writer.close()
        expect(page.get_by_text("New violence event on cam-a").first).to_be_visible()
        page.wait_for_function("() => window.cashwatchAudio !== undefined")

        card.locator(".st-key-stop_cam-a button").last.click()
        expect(card).to_contain_text("stopped")
        card.locator(".st-key-start_cam-a button").last.click()
        expect(card).to_contain_text("running")

        _open_page(page, "Live", "s old")
        page.locator('[data-testid="stImage"] img').first.wait_for()
        screenshot(page, "live")

        _open_page(page, "Events", "Snapshot at the trigger frame")
        video = page.locator("video").first
        video.wait_for()
        page.wait_for_function(
            "() => { const v = document.querySelector('video');"
            " if (!v) return false; v.muted = true; v.play();"
            " return v.currentTime > 0.2; }",
            timeout=TIMEOUT_MS,
        )
        screenshot(page, "events")

        _open_page(page, "Cameras", "Camera id")
        page.locator(".st-key-cam_choice").click()
        page.get_by_role("option", name="Front desk (cam-a)").click()
        page.get_by_role("tab", name="Zones").click()
        _draw_cashier_zone(page, config)
        screenshot(page, "cameras")
        _open_page(page, "System", "Manager log")
        screenshot(page, "system")
        _open_page(page, "SQL", "Read-only")
        page.get_by_role("button", name="Run").click()
        page.locator('[data-testid="stDataFrame"]').first.wait_for()
        screenshot(page, "sql")

        # A reload (a new Streamlit session) keeps the operator signed in, by the cookie
        cookies = {c["name"]: c for c in page.context.cookies()}
        cookie = cookies[f"cashwatch_sign_in_{url.rsplit(':', 1)[1]}"]
        assert cookie["sameSite"] == "Strict" and cookie["expires"] > time.time() + 11 * 3600
        page.reload()
        expect(page.get_by_text("Signed in as").first).to_contain_text("ada")
        expect(page.get_by_text("Read-only").first).to_be_visible()  # the same page, not a form
        # Signing out ends it: the browser forgets the cookie and the server the token
        page.locator(".st-key-sign_out button").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        page.reload()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        assert cookie["name"] not in {c["name"] for c in page.context.cookies()}
        browser.close()
