"""A CCTV box is often offline, and its staff may read only Korean: the dashboard in
Korean draws Hangul with a real font and makes no request beyond loopback.

Streamlit 1.67 bundles its fonts (Source Sans, Material Symbols) and serves them itself;
what left the box was the favicon: a `:material/...:` page icon makes the frontend fetch
that icon as an SVG from fonts.gstatic.com on every page load. Source Sans has no Hangul:
Chromium takes it from the system's fonts (`fonts-nanum`, .ci/apt-packages.txt), and
without one it draws empty boxes ("tofu"). Chromium's DevTools say which platform font
drew each glyph of a node, so the test asks instead of comparing pixels.

The screenshots of the Korean Overview and Events pages go to docs/screenshots/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard import builders
from tests.dashboard.conftest import REPO
from tests.dashboard.offline_browser import (
    chromium_page,
    free_port,
    require_chromium,
    screenshot,
    streamlit_server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HANGUL = re.compile(r"[\uac00-\ud7a3]")


# Marks the element holding the first text under `selector` that has Hangul, and returns
# that text: DevTools report the fonts of an element's own text, not of its descendants'.
_MARK_HANGUL = """(selector) => {
  for (const old of document.querySelectorAll('[data-hangul-probe]')) {
    old.removeAttribute('data-hangul-probe');
  }
  const root = document.querySelector(selector);
  if (!root) return null;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (/[\\uac00-\\ud7a3]/.test(node.textContent)) {
      node.parentElement.setAttribute('data-hangul-probe', '1');
      return node.textContent;
    }
  }
  return null;
}"""


def _assert_hangul_drawn(page: Any, selector: str) -> None:
    """The first Korean text under `selector` is drawn by a font that has Hangul."""
    text = page.evaluate(_MARK_HANGUL, selector)
    assert text, f"{selector} shows no Korean"
    hangul = len(HANGUL.findall(text))
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    probe = {"nodeId": root, "selector": "[data-hangul-probe]"}
    node = cdp.send("DOM.querySelector", probe)["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    # every Hangul glyph drawn by a system font: Streamlit's bundled web fonts (custom
    # fonts to DevTools: SourceSans3VF, Material Symbols) have no Hangul, and a tofu box
    # is the primary font's empty glyph, counted under its name
    drawn = sum(f["glyphCount"] for f in fonts if not f["isCustomFont"])
    assert drawn >= hangul, f"{text!r}: {hangul} Hangul characters, fonts used: {fonts}"
    cdp.detach()


def _require_hangul_font() -> None:
    fonts = subprocess.run(["fc-list", ":lang=ko"], capture_output=True, text=True, check=False)
    if not fonts.stdout.strip():
        message = "no font with Hangul is installed (apt-get install -y fonts-nanum)"
        if os.environ.get("CASHWATCH_REQUIRE_BROWSER") == "1":  # CI must not skip it
            pytest.fail(message)
        pytest.skip(message)


def test_korean_overview_and_events_draw_hangul_offline(tmp_path: Path) -> None:
    require_chromium()
    _require_hangul_font()
    config = builders.write_config(tmp_path / "cashwatch.toml", language="ko")
    builders.create_history(tmp_path)
    live = builders.publish_live(tmp_path, config)
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    env = dict(os.environ, CASHWATCH_CONFIG=str(config))
    outside: list[str] = []
    try:
        with (
            streamlit_server(
                command, cwd=REPO, env=env, port=port, log=tmp_path / "streamlit.log"
            ) as url,
            chromium_page(outside) as page,
        ):
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto(url)
            page.get_by_role("heading", name="개요").wait_for()
            page.wait_for_load_state("networkidle")
            _assert_hangul_drawn(page, "h1")
            _assert_hangul_drawn(page, '[data-testid="stSidebarNav"] a')
            screenshot(page, "overview-ko")
            page.locator('[data-testid="stSidebarNav"] a', has_text="이벤트").first.click()
            page.get_by_role("heading", name="이벤트").wait_for()
            page.get_by_text("office-evt-1").first.wait_for(state="attached")  # history drawn
            page.wait_for_load_state("networkidle")
            _assert_hangul_drawn(page, "h1")
            screenshot(page, "events-ko")
    finally:
        live.close()
    assert outside == [], f"requests left loopback: {sorted(set(outside))}"
