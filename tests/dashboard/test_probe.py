""" "Test source" opens only what a camera may be: video files in the allowed folders,
never the data folder's evidence; camera URLs, never cloud metadata or this box's own
web services; and only for an account allowed to edit that camera's site."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest

from cashwatch.auth import UserStore
from cashwatch.config import LoadedConfig, load_config
from cashwatch.dashboard import source_probe
from cashwatch.dashboard.source_probe import SourceRefused, check_source, probe_source
from tests.dashboard import builders
from tests.dashboard.conftest import PASSWORD, sign_in
from tests.harness import write_config


@pytest.fixture
def loaded(tmp_path: Path) -> LoadedConfig:
    return load_config(builders.config_with_media_and_evidence(tmp_path))


def test_a_video_in_an_allowed_folder_is_probed(loaded: LoadedConfig) -> None:
    result = probe_source("media/desk.avi", loaded)
    assert result.ok, result.message
    assert "320x240" in result.message


@pytest.mark.parametrize(
    "source, says",
    [
        ("snapshots/2026-01-01/cam-b/evt.jpg", "outside the folders"),
        ("media/../snapshots/2026-01-01/cam-b/evt.jpg", "outside the folders"),
        ("/etc/hostname", "outside the folders"),
        ("file:///etc/hostname", "file scheme is not a camera's"),
        ("ftp://10.0.0.9/a.mp4", "ftp scheme is not a camera's"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://127.0.0.1:8501/", "this server"),
        # IPv6 spellings of IPv4 addresses: Python calls none of them loopback or link-local
        ("http://[::ffff:127.0.0.1]:8501/", "this server"),
        ("http://[::ffff:169.254.169.254]/latest/meta-data", "link-local"),
        ("http://[::ffff:0.0.0.0]:8501/", "unspecified"),
        ("rtsp://[64:ff9b::a9fe:a9fe]/", "link-local"),  # NAT64 169.254.169.254
        ("http://[2002:7f00:1::]:8501/", "this server"),  # 6to4 127.0.0.1
    ],
)
def test_what_no_camera_is_is_refused_by_name(loaded: LoadedConfig, source: str, says: str) -> None:
    with pytest.raises(SourceRefused, match=says):
        check_source(source, loaded)
    result = probe_source(source, loaded)
    assert not result.ok and result.message.startswith("not tested:"), result.message


def test_the_data_folder_stays_private_even_inside_an_allowed_folder(
    tmp_path: Path, loaded: LoadedConfig
) -> None:
    """Default folders: the config's own, which is often the data folder too."""
    config = write_config(tmp_path / "cashwatch.toml", [])  # no source_folders
    default = load_config(config)
    assert check_source("media/desk.avi", default) == str(tmp_path / "media" / "desk.avi")
    for private in ("snapshots/2026-01-01/cam-b/evt.jpg", "users.json", "cashwatch.duckdb"):
        with pytest.raises(SourceRefused, match="never a camera source"):
            check_source(private, default)


def test_a_relay_on_this_box_is_probed_over_rtsp(loaded: LoadedConfig) -> None:
    assert check_source("rtsp://127.0.0.1:9/relay", loaded) == "rtsp://127.0.0.1:9/relay"
    assert check_source("0", loaded) == 0  # a webcam


def _own_address() -> str | None:
    """A non-loopback address of this machine's interfaces (compared, never contacted)."""
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if (
                entry.family == socket.AF_INET
                and not ipaddress.ip_address(entry.address).is_loopback
            ):
                return str(entry.address)
    return None


def test_this_box_is_refused_by_its_interface_address_too(loaded: LoadedConfig) -> None:
    own = _own_address()
    if own is None:
        pytest.skip("this machine has no IPv4 address besides loopback")
    with pytest.raises(SourceRefused, match="this server"):
        check_source(f"http://{own}:8501/", loaded)
    assert check_source(f"rtsp://{own}:9/relay", loaded) == f"rtsp://{own}:9/relay"


class _Redirecting(BaseHTTPRequestHandler):
    """/camera answers 302 to the URL in `server.target`; anything else is a secret."""

    def do_GET(self) -> None:
        server: Any = self.server
        server.hits.append(self.path)
        if self.path == "/camera":
            self.send_response(302)
            self.send_header("Location", server.target)
            self.end_headers()
        else:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"secret")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def loopback_server() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    server.hits, server.target = [], ""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_redirect_to_this_box_is_not_followed(
    loaded: LoadedConfig, loopback_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A camera URL that is allowed answers 302 to one that is not (here: http on this
    box). The "camera" must itself be on loopback for the test to send traffic nowhere
    else, so only for it is this box's http allowed; the redirect target is not checked
    by the rules at all: FFmpeg is told to follow no redirect."""
    port = loopback_server.server_address[1]
    loopback_server.target = f"http://127.0.0.1:{port}/internal-secret"
    camera = f"http://127.0.0.1:{port}/camera"
    with pytest.raises(SourceRefused, match="this server"):
        check_source(loopback_server.target, loaded)
    monkeypatch.setattr(source_probe, "_this_box", lambda address: False)
    result = probe_source(camera, loaded, open_timeout_s=3.0, read_timeout_s=2.0)
    assert not result.ok
    assert loopback_server.hits == ["/camera"], "the redirect was followed"


def test_a_site_admin_cannot_point_a_camera_at_evidence(remote_dash: Any) -> None:
    """The hole: edit your own site's camera to read another site's snapshot."""
    UserStore(remote_dash.data_dir).add("sam", PASSWORD, "admin", ["lobby"])
    at = sign_in(remote_dash.app().run(), "sam")
    at = at.switch_page("pages/cameras.py").run()
    at.selectbox(key="cam_choice").select("cam-a").run()
    snapshot = next((remote_dash.data_dir / "snapshots").rglob("*.jpg"))
    at.text_input(key="camera_form_cam-a.source").input(str(snapshot))
    submit: Any = next(
        b for b in at.get("form_submit_button") if getattr(b, "label", "") == "Save camera"
    )
    submit.click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any("not saved" in e and "never a camera source" in e for e in errors), errors
