"""Tracebacks never reach the browser: they name files, paths and values (a camera URL,
a query). Both ways the dashboard is started hide them: `cashwatch dashboard` (its
command line, whatever the working folder) and `streamlit run` in the checkout
(.streamlit/config.toml)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from cashwatch.launcher import SAFETY_OPTIONS
from tests.dashboard.conftest import REPO
from tests.dashboard.offline_browser import (
    chromium_page,
    free_port,
    require_chromium,
    streamlit_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SECRET = "rtsp://admin:hunter2@10.0.0.9/stream"
FAILING_APP = f"""
import streamlit as st
st.title("Before the failure")
raise RuntimeError("cannot open {SECRET}")
"""


@pytest.mark.parametrize("started", ["launcher options, any folder", "checkout config"])
def test_an_exception_shows_no_detail_in_the_browser(tmp_path: Path, started: str) -> None:
    require_chromium()
    script = tmp_path / "failing_app.py"
    script.write_text(FAILING_APP, encoding="utf-8")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
    ]
    if started.startswith("launcher"):
        command, cwd = [*command, *SAFETY_OPTIONS], tmp_path  # no .streamlit/ there
    else:
        cwd = REPO
    outside: list[str] = []
    with (
        streamlit_server(
            command, cwd=cwd, env=dict(os.environ), port=port, log=tmp_path / "streamlit.log"
        ) as url,
        chromium_page(outside) as page,
    ):
        page.goto(url)
        page.get_by_role("heading", name="Before the failure").wait_for()
        page.get_by_test_id("stException").wait_for()
        shown = page.get_by_test_id("stException").inner_text()
        body = page.locator("body").inner_text()
    assert "hunter2" not in body and "Traceback" not in body and "failing_app" not in body, shown
    assert "error" in shown.lower(), shown  # still said that something went wrong
    assert SECRET in (tmp_path / "streamlit.log").read_text(), "the log keeps the details"
