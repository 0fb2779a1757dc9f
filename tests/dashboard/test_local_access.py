"""Who counts as the local admin, decided per request in a real Streamlit server driven
by headless Chromium, or by a bare websocket client speaking Streamlit's protocol. Every
request goes to 127.0.0.1: `evil.example` is mapped there by Chromium itself (DNS
rebinding emulated, no resolver asked)."""

from __future__ import annotations

import os
import shutil
import sys
import time
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
    config = write_config(
        tmp_path / "cashwatch.toml",
        [camera_entry("cam-a", "/videos/a.mp4", site="lobby", name="Front desk")],
    )
    builders.create_history(tmp_path)
    UserStore(tmp_path).add("ada", PASSWORD, "admin")
    port = free_port()
    env = dict(os.environ, CASHWATCH_CONFIG=str(config), PYTHONPATH=str(REPO))
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(cwd / "app.py" if (cwd / "app.py").exists() else REPO / "app.py"),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        *args,
    ]
    with streamlit_server(command, cwd=cwd, env=env, port=port, log=tmp_path / "streamlit.log"):
        yield str(port)


def _first_screen(port: str, host: str) -> str:
    """'sign-in' or 'overview': what Chromium shows at http://host:port/."""
    from playwright.sync_api import sync_playwright

    require_chromium()
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


def _websocket_screen(port: str, origin: str | None) -> str:
    """'sign-in' or 'overview': what the app draws for a websocket client that is no
    browser (it sends `Origin` only when given one), as Streamlit's protocol carries it."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    headers = {"Origin": origin} if origin is not None else None
    with connect(
        f"ws://127.0.0.1:{port}/_stcore/stream",
        subprotocols=["streamlit"],
        additional_headers=headers,
        open_timeout=30,
    ) as ws:
        rerun = BackMsg()
        rerun.rerun_script.query_string = ""
        ws.send(rerun.SerializeToString())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            msg = ForwardMsg()
            msg.ParseFromString(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            element = msg.delta.new_element
            if element.button.label == "Sign in":
                return "sign-in"
            if "Overview" in element.heading.body:
                return "overview"
            if msg.WhichOneof("type") == "script_finished":
                break
    raise AssertionError("the app drew neither the sign-in form nor the Overview")


def test_a_websocket_without_origin_is_not_the_local_admin(tmp_path: Path) -> None:
    """A script behind a local forwarder (nginx `proxy_pass`, socat, `ssh -L`): loopback
    peer, loopback Host, no proxy header and no Origin. Streamlit lets it connect; it
    must sign in. The same client naming a loopback Origin, as a local browser does, is
    the local admin: the two differ only in that header."""
    with _streamlit(tmp_path, tmp_path, "--server.address", "127.0.0.1") as port:
        assert _websocket_screen(port, f"http://127.0.0.1:{port}") == "overview"
        assert _websocket_screen(port, None) == "sign-in"
