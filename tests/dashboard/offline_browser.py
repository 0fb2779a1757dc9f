"""What the real-browser tests share: a real Streamlit server on loopback, headless
Chromium, and a page that records every request leaving loopback (this machine has no
internet: such requests fail, they are only recorded)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.harness import wait_for

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
SCREENSHOTS = REPO / "docs" / "screenshots"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
TIMEOUT_MS = 30_000


def require_chromium() -> None:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if os.environ.get("CASHWATCH_REQUIRE_BROWSER") == "1":  # CI must not skip it
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def streamlit_server(
    command: Sequence[str], *, cwd: Path, env: dict[str, str], port: int, log: Path
) -> Iterator[str]:
    """Run `command` (a Streamlit server on `port`) until the block ends; yields its URL."""
    with log.open("wb") as out:
        server = subprocess.Popen(
            list(command), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: healthy(url) or server.poll() is not None, 60, "streamlit to answer")
            assert server.poll() is None, log.read_text(errors="replace")
            yield url
        finally:
            server.terminate()
            server.wait(15)


def leaves_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about", "chrome", "chrome-extension"}:
        return False
    return (parts.hostname or "") not in LOOPBACK


@contextmanager
def chromium_page(outside: list[str]) -> Iterator[Any]:
    """A fresh headless Chromium page; every request to a non-loopback host goes into
    `outside` (by URL)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on(
                "request",
                lambda request: (
                    outside.append(request.url) if leaves_loopback(request.url) else None
                ),
            )
            yield page
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> None:
    """The page as `test-artifacts/<name>.png`, copied to docs/screenshots/.

    Streamlit scrolls its main block, not the page: a full-page shot is the window only.
    The window is made as tall as the content for the shot (its width stays).
    """
    ARTIFACTS.mkdir(exist_ok=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = page.viewport_size
    tall = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 0"
    )
    page.set_viewport_size(
        {"width": size["width"], "height": max(size["height"], min(int(tall), 2400))}
    )
    try:
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(size)
    shutil.copy(path, SCREENSHOTS / path.name)
