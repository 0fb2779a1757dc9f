"""Fixtures: a data_dir with a config, live shared memory and history, for every page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cashwatch.auth import UserStore
from tests.dashboard import builders

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app.py"
PASSWORD = "correct horse battery"


ADMIN = "ada"


@dataclass
class Dashboard:
    data_dir: Path
    config_path: Path
    live: builders.LiveState | None
    # the account each new AppTest session is signed in as (None: it meets the form)
    signed_in_as: str | None = None

    def app(self, timeout_s: float = 20) -> AppTest:
        if self.live is not None:
            builders.heartbeat(self.live)  # the manager would beat every loop
        at = AppTest.from_file(str(APP), default_timeout=timeout_s)
        if self.signed_in_as is not None:
            signed_in(at, self.data_dir, self.signed_in_as)
        return at

    def page(self, path: str) -> AppTest:
        at = self.app().run()
        assert not at.exception, at.exception
        return at.switch_page(path).run()


def signed_in(at: AppTest, data_dir: Path, name: str) -> AppTest:
    """A session that has signed in as `name`, as the login form leaves it. AppTest has
    no browser, so no request is provably local: every session must sign in."""
    at.session_state["cashwatch_user"] = name
    at.session_state["cashwatch_account"] = UserStore(data_dir).fingerprint(name)
    return at


def _make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, host: str, live: bool) -> Dashboard:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    config = builders.write_config(data_dir / "cashwatch.toml", host=host)
    monkeypatch.setenv("CASHWATCH_CONFIG", str(config))
    monkeypatch.chdir(REPO)
    builders.create_history(data_dir)
    state = builders.publish_live(data_dir, config) if live else None
    UserStore(data_dir).add(ADMIN, PASSWORD, "admin")
    return Dashboard(data_dir, config, state, signed_in_as=ADMIN)


@pytest.fixture
def dash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dashboard]:
    board = _make(tmp_path, monkeypatch, host="127.0.0.1", live=True)
    yield board
    assert board.live is not None
    board.live.close()


@pytest.fixture
def offline_dash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dashboard:
    return _make(tmp_path, monkeypatch, host="127.0.0.1", live=False)


@pytest.fixture
def remote_dash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dashboard]:
    """Listening on 0.0.0.0 with three accounts: login is required."""
    board = _make(tmp_path, monkeypatch, host="0.0.0.0", live=True)
    board.signed_in_as = None
    store = UserStore(board.data_dir)
    store.add("otto", PASSWORD, "operator", ["lobby"])
    store.add("ana", PASSWORD, "analyst")
    yield board
    assert board.live is not None
    board.live.close()


def shown(markdown: str) -> str:
    """What a reader sees of Markdown the page escaped: the escapes undone."""
    return re.sub(r"\\(.)", r"\1", markdown)


def sign_in(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    return at.button[0].click().run()
