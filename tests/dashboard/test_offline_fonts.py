"""A CCTV box is often offline: loading the dashboard makes no request beyond loopback.

Streamlit 1.67 bundles its fonts (Source Sans, Material Symbols) and serves them itself;
what left the box was the favicon: a `:material/...:` page icon makes the frontend fetch
that icon as an SVG from fonts.gstatic.com on every page load.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.dashboard import builders
from tests.dashboard.conftest import REPO
from tests.dashboard.offline_browser import (
    chromium_page,
    free_port,
    require_chromium,
    streamlit_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_overview_and_events_make_no_request_beyond_loopback(tmp_path: Path) -> None:
    require_chromium()
    config = builders.write_config(tmp_path / "cashwatch.toml")
    builders.create_history(tmp_path)
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    env = dict(os.environ, CASHWATCH_CONFIG=str(config))
    outside: list[str] = []
    with (
        streamlit_server(
            command, cwd=REPO, env=env, port=port, log=tmp_path / "streamlit.log"
        ) as url,
        chromium_page(outside) as page,
    ):
        page.goto(url)
        page.get_by_role("heading", name="Overview").wait_for()
        page.wait_for_load_state("networkidle")
        page.locator('[data-testid="stSidebarNav"] a', has_text="Events").first.click()
        page.get_by_role("heading", name="Events").wait_for()
        page.get_by_text("office-evt-1").first.wait_for(state="attached")  # history drawn
        page.wait_for_load_state("networkidle")
    assert outside == [], f"requests left loopback: {sorted(set(outside))}"
