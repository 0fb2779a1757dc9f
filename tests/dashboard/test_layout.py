"""At a laptop's width (1280 x 900) the Overview's numbers are read whole: a real
Streamlit server, headless Chromium, the text Chromium renders of each camera card's
metrics against the values in shared memory, and no value cut off with an ellipsis.

The manager's part (its status table, its heartbeat) is played by this process with the
manager's own modules (tests/dashboard/builders.py); everything stays on loopback.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cashwatch.dashboard import data
from tests.dashboard import builders
from tests.dashboard.conftest import REPO
from tests.dashboard.offline_browser import (
    CHROMIUM,
    FLAGS,
    TIMEOUT_MS,
    free_port,
    require_chromium,
    streamlit_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WIDTH, HEIGHT = 1280, 900
ARTIFACTS = REPO / "test-artifacts"
# A busy camera: numbers as long as a day's running makes them
FRAMES_PROCESSED = 2_734_112
UPTIME_S = 83 * 60 + 30  # 1 h 23 min

# For every metric of a card: its label, the text Chromium draws for its value, and
# whether any box in it is narrower than its content (CSS cuts it with an ellipsis)
READ_METRICS = """card => [...card.querySelectorAll('[data-testid="stMetric"]')].map(m => {
  const label = m.querySelector('[data-testid="stMetricLabel"]');
  const value = m.querySelector('[data-testid="stMetricValue"]');
  const cut = [m, ...m.querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => `${e.getAttribute('data-testid') || e.tagName}: ${e.scrollWidth} > ${e.clientWidth}`);
  return {label: label ? label.innerText.trim() : '', value: value ? value.innerText.trim() : '',
          cut};
})"""


@pytest.fixture
def live_dashboard(tmp_path: Path) -> Iterator[tuple[str, builders.LiveState]]:
    """The dashboard on loopback (no sign-in for a local browser), one busy camera."""
    require_chromium()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    config = builders.write_config(data_dir / "cashwatch.toml")
    builders.create_history(data_dir)
    live = builders.publish_live(data_dir, config)
    live.table.update_manager(0, start_ts=time.time() - UPTIME_S)
    builders.set_worker(
        live,
        frames_processed=FRAMES_PROCESSED,
        camera_fps=14.96,
        process_fps=14.9,
        detection_fps=7.4,
    )
    stop = threading.Event()
    beating = threading.Thread(target=_beat, args=(live, stop), daemon=True)
    beating.start()
    port = free_port()
    env = dict(os.environ, CASHWATCH_CONFIG=str(config))
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    try:
        with streamlit_server(
            command, cwd=REPO, env=env, port=port, log=tmp_path / "streamlit.log"
        ) as url:
            yield url, live
    finally:
        stop.set()
        beating.join(5)
        live.close()


def _beat(live: builders.LiveState, stop: threading.Event) -> None:
    """The manager's heartbeat, every half second, until the test ends."""
    while not stop.wait(0.5):
        builders.heartbeat(live)


def _card_metrics(page: Any, camera_id: str) -> list[dict[str, Any]]:
    card = page.locator(f".st-key-card_{camera_id}").last
    card.locator('[data-testid="stMetric"]').first.wait_for()
    return list(card.evaluate(READ_METRICS))


def _expected(data_dir: Path) -> dict[str, str]:
    """What cam-a's card must read, from what the manager published and the history."""
    return {
        "Camera fps": "15.0",
        "Process fps": "14.9",
        "Detect fps": "7.4",
        "Frames": "2.73M",  # 2,734,112 (in the metric's help)
        "Events today": str(data.events_today(data_dir).get("cam-a", 0)),
        "Uptime": "1h 23m",
    }


def test_overview_numbers_fit_at_1280_px(
    live_dashboard: tuple[str, builders.LiveState], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, _ = live_dashboard
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)
            page.get_by_role("heading", name="Overview").wait_for()
            metrics = _card_metrics(page, "cam-a")
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator(".st-key-cards").last.screenshot(
                path=str(ARTIFACTS / "overview-cards-1280.png")
            )
        finally:
            browser.close()
    read = {m["label"]: m["value"] for m in metrics}
    assert read == _expected(tmp_path / "data"), metrics
    cut = {m["label"]: m["cut"] for m in metrics if m["cut"]}
    assert not cut, f"cut off at {WIDTH} px: {cut}"
