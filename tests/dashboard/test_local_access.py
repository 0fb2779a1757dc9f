"""Who counts as the local admin, decided per request in a real Streamlit server driven
by headless Chromium. Every request goes to 127.0.0.1: `evil.example` is mapped there by
Chromium itself (DNS rebinding emulated, no resolver asked)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cashwatch.auth import UserStore
from tests.dashboard import builders
from tests.dashboard.conftest import PASSWORD, REPO
from tests.dashboard.offline_browser import (
    CHROMIUM,
    FLAGS,
    TIMEOUT_MS,
    free_port,
    require_chromium,
    streamlit_server,
)
from tests.harness import camera_entry, write_config

pytestmark = [pytest.mark.browser, pytest.mark.slow]
REBOUND = "evil.example"


@contextmanager
def _streamlit(tmp_path: Path, cwd: Path, *args: str) -> Iterator[str]:
    """`streamlit run app.py` from `cwd`, with an admin account and no manager. The app
    is run as it lies in `cwd` when it has one there, else from this checkout (whose
    .streamlit/config.toml, beside app.py, Streamlit reads wherever it is started)."""
    require_chromium()
    config = write_config(tmp_path / "cashwatch.toml",
                          [camera_entry("cam-a", "/videos/a.mp4", site="lobby",
                                        name="Front desk")])
    builders.create_history(tmp_path)
    UserStore(tmp_path).add("ada", PASSWORD, "admin")
    port = free_port()
    env = dict(os.environ, CASHWATCH_CONFIG=str(config), PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "streamlit", "run",
               str(cwd / "app.py" if (cwd / "app.py").exists() else REPO / "app.py"),
               "--server.port", str(port), "--server.headless", "true",
               "--browser.gatherUsageStats", "false", *args]
    with streamlit_server(command, cwd=cwd, env=env, port=port,
                          log=tmp_path / "streamlit.log"):
        yield str(port)


def _first_screen(port: str, host: str) -> str:
    """'sign-in' or 'overview': what Chromium shows at http://host:port/."""
    from playwright.sync_api import sync_playwright

    rules = f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[*FLAGS, rules])
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"http://{host}:{port}/")
            form = page.get_by_role("button", name="Sign in")
            overview = page.get_by_role("heading", name="Overview")
            form.or_(overview).first.wait_for()
            return "sign-in" if form.count() else "overview"
        finally:
            browser.close()


def test_unset_listen_address_asks_a_loopback_visitor_to_sign_in(tmp_path: Path) -> None:
    """The app in a folder without .streamlit/ (a container, an installed copy): the
    listen address is unset, so Streamlit listens on every interface."""
    bare = tmp_path / "elsewhere"
    bare.mkdir()
    shutil.copy(REPO / "app.py", bare / "app.py")
    shutil.copytree(REPO / "pages", bare / "pages")
    with _streamlit(tmp_path, bare) as port:
        assert _first_screen(port, "127.0.0.1") == "sign-in"


def test_a_rebound_name_asks_to_sign_in_where_loopback_does_not(tmp_path: Path) -> None:
    with _streamlit(tmp_path, tmp_path, "--server.address", "127.0.0.1") as port:
        assert _first_screen(port, "127.0.0.1") == "overview"  # the local admin
        assert _first_screen(port, REBOUND) == "sign-in"
