"""Remembered sign-ins: what the server keeps, and when a token stops counting."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cashwatch.auth import UserStore
from cashwatch.sign_ins import SIGN_INS_FILE, SignInStore
from tests.dashboard.conftest import PASSWORD, Dashboard, sign_in


def test_a_token_is_good_until_it_expires_or_is_revoked(tmp_path: Path) -> None:
    store = SignInStore(tmp_path)
    first = store.issue("ada", "fp", lifetime_s=100, now=1_000)
    second = store.issue("ada", "fp", lifetime_s=100, now=1_000)  # another browser
    assert first != second
    assert store.resolve(first, now=1_099) is not None
    assert store.resolve(first, now=1_100) is None
    store.revoke(first)
    assert store.resolve(first, now=1_050) is None
    assert store.resolve(second, now=1_050) is not None  # the other browser stays in
    assert store.resolve("made-up", now=1_050) is None


def test_only_digests_are_kept_in_a_private_file(tmp_path: Path) -> None:
    token = SignInStore(tmp_path).issue("ada", "fp", lifetime_s=100)
    path = tmp_path / SIGN_INS_FILE
    assert token not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_expired_sign_ins_are_dropped_from_the_file(tmp_path: Path) -> None:
    store = SignInStore(tmp_path)
    store.issue("ada", "fp", lifetime_s=10, now=0)
    store.issue("otto", "fp", lifetime_s=10, now=100)
    kept = json.loads((tmp_path / SIGN_INS_FILE).read_text())["sign_ins"]
    assert [entry["user"] for entry in kept.values()] == ["otto"]


def test_a_damaged_file_forgets_sign_ins_and_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / SIGN_INS_FILE).write_text("{not json")
    store = SignInStore(tmp_path)
    assert store.resolve("anything") is None
    assert SIGN_INS_FILE in caplog.text and "forgotten" in caplog.text
    token = store.issue("ada", "fp", lifetime_s=100)
    assert store.resolve(token) is not None


def test_the_fingerprint_changes_with_the_password(tmp_path: Path) -> None:
    users = UserStore(tmp_path)
    users.add("ada", PASSWORD, "admin")
    before = users.fingerprint("ada")
    users.add("ada", "another password", "admin", replace=True)
    assert before is not None and users.fingerprint("ada") not in (None, before)
    assert users.fingerprint("nobody") is None


def test_signing_in_remembers_the_browser_and_signing_out_revokes_it(
    remote_dash: Dashboard,
) -> None:
    at = sign_in(remote_dash.app().run(), "ada")
    assert not at.exception, at.exception
    token = at.session_state["cashwatch_sign_in_token"]
    sign_in_record = SignInStore(remote_dash.data_dir).resolve(token)
    assert sign_in_record is not None and sign_in_record.user == "ada"
    assert sign_in_record.account == UserStore(remote_dash.data_dir).fingerprint("ada")
    at.sidebar.button(key="sign_out").click().run()
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert SignInStore(remote_dash.data_dir).resolve(token) is None


def test_signing_out_in_another_tab_ends_this_one_too(remote_dash: Dashboard) -> None:
    at = sign_in(remote_dash.app().run(), "ada")
    SignInStore(remote_dash.data_dir).revoke(at.session_state["cashwatch_sign_in_token"])
    at.run()
    assert [t.label for t in at.text_input] == ["User name", "Password"]


def test_a_password_change_ends_open_sessions(remote_dash: Dashboard) -> None:
    at = sign_in(remote_dash.app().run(), "ada")
    UserStore(remote_dash.data_dir).add("ada", "a new password", "admin", replace=True)
    at.run()
    assert [t.label for t in at.text_input] == ["User name", "Password"]


def test_without_remembering_no_token_is_kept_but_a_password_change_still_counts(
    remote_dash: Dashboard,
) -> None:
    text = remote_dash.config_path.read_text()
    assert "[dashboard]\n" in text
    remote_dash.config_path.write_text(
        text.replace("[dashboard]\n", "[dashboard]\nremember_sign_in_hours = 0\n")
    )
    at = sign_in(remote_dash.app().run(), "otto")
    assert "cashwatch_sign_in_token" not in at.session_state
    assert not (remote_dash.data_dir / SIGN_INS_FILE).exists()
    at.run()
    assert not at.text_input  # still signed in on the next run
    UserStore(remote_dash.data_dir).add(
        "otto", "a new password", "operator", ["lobby"], replace=True
    )
    at.run()
    assert [t.label for t in at.text_input] == ["User name", "Password"]


RECHECKING_FRAGMENT = """
import streamlit as st
from cashwatch.dashboard import session
# like a self-refreshing fragment: the context of the run that drew the page is reused
if "cashwatch_user" not in st.session_state or "ctx" not in st.session_state:
    st.session_state["ctx"] = session.page_context()  # the login form when signed out
session.recheck_sign_in(st.session_state["ctx"])
st.write("still signed in")
"""


def test_a_refreshing_part_of_a_page_notices_the_sign_in_has_ended(remote_dash: Dashboard) -> None:
    at = sign_in(AppTest.from_string(RECHECKING_FRAGMENT).run(), "ada")
    assert not at.exception, at.exception
    at.run()
    assert [m.value for m in at.markdown] == ["still signed in"]
    UserStore(remote_dash.data_dir).add("ada", "a new password", "admin", replace=True)
    at.run()
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert "still signed in" not in [m.value for m in at.markdown]
