"""Per-run context of every page: the config, the signed-in user, the login form.

Login is required whenever the dashboard can be reached from another machine: when
the config's `[dashboard] host` or the address Streamlit actually listens on is not
loopback, or when `require_login = true`. Otherwise the local user is an admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from cashwatch.auth import LOCAL_ADMIN, AuthError, User, UserStore
from cashwatch.config import ConfigError, LoadedConfig, load_config
from cashwatch.config.app import AppConfig

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_USER_KEY = "cashwatch_user"


class PermissionDenied(Exception):
    """An action the signed-in account may not perform."""


@dataclass(frozen=True)
class PageContext:
    loaded: LoadedConfig
    user: User

    @property
    def data_dir(self) -> Path:
        return self.loaded.data_dir

    def require(self, permission: str, site: str | None = None) -> None:
        """Raise PermissionDenied unless the user may do this (at this site)."""
        if not self.user.can(permission):
            raise PermissionDenied(f"{self.user.name} ({self.user.role}) may not {permission}")
        if site is not None and not self.user.sees_site(site):
            raise PermissionDenied(f"{self.user.name} is limited to sites "
                                   f"{', '.join(self.user.sites)}; not {site!r}")


def load_config_or_stop() -> LoadedConfig:
    try:
        return load_config()
    except ConfigError as exc:
        st.error(f"The configuration cannot be loaded: {exc}")
        st.stop()
        raise  # st.stop() raises; this keeps type checkers informed


def login_required(app: AppConfig) -> bool:
    listen = str(st.get_option("server.address") or "")
    remote_listen = bool(listen) and listen not in LOOPBACK
    return app.dashboard.require_login or app.dashboard.host not in LOOPBACK or remote_listen


def _login_form(store: UserStore) -> None:
    st.title("CashWatch")
    st.caption("Sign in to continue.")
    with st.form("login"):
        name = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if not submitted:
        return
    try:
        user = store.authenticate(name, password)
    except AuthError as exc:
        st.error(str(exc))
        return
    if user is None:
        st.error("Wrong user name or password.")
        return
    st.session_state[_USER_KEY] = user.name
    st.rerun()


def signed_in_user(loaded: LoadedConfig) -> User | None:
    """The account of this session, re-read each run so a removed account is signed out."""
    if not login_required(loaded.app):
        return LOCAL_ADMIN
    name = st.session_state.get(_USER_KEY)
    if not name:
        return None
    try:
        users = {user.name: user for user in UserStore(loaded.data_dir).users()}
    except AuthError:
        return None
    return users.get(name)


def require_login(loaded: LoadedConfig) -> User:
    """The signed-in user; otherwise draws the login form and stops the run."""
    user = signed_in_user(loaded)
    if user is not None:
        return user
    store = UserStore(loaded.data_dir)
    try:
        has_users = bool(store.users())
    except AuthError as exc:
        st.error(str(exc))
        st.stop()
    if not has_users:
        st.error("Login is required here but there are no accounts yet. Create one with "
                 "`cashwatch users add NAME --role admin`.")
    else:
        _login_form(store)
    st.stop()
    raise AssertionError("unreachable")


def sign_out() -> None:
    st.session_state.pop(_USER_KEY, None)


def page_context() -> PageContext:
    """Call at the top of every page."""
    loaded = load_config_or_stop()
    return PageContext(loaded=loaded, user=require_login(loaded))


def guard_page(permission: str) -> PageContext:
    ctx = page_context()
    if not ctx.user.can(permission):
        st.error(f"Your account ({ctx.user.role}) cannot open this page.")
        st.stop()
    return ctx
