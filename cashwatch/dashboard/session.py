"""Per-run context of every page: the config, the signed-in user, the login form.

Login is required whenever the dashboard can be reached from another machine: when
the config's `[dashboard] host` or the address Streamlit actually listens on is not
loopback, or when `require_login = true`. Otherwise the local user is an admin.

A config file that stops loading (a typo while someone edits it) does not take the
dashboard down: pages keep the last config that loaded in this process, under a banner
naming the problem, and nothing writes the file until it loads again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import streamlit as st

from cashwatch.auth import LOCAL_ADMIN, AuthError, User, UserStore
from cashwatch.config import ConfigError, LoadedConfig, load_config, resolve_config_path
from cashwatch.config.app import AppConfig
from cashwatch.util.redact import mask_credentials

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_USER_KEY = "cashwatch_user"


class PermissionDenied(Exception):
    """An action the signed-in account may not perform."""


@dataclass(frozen=True)
class PageContext:
    loaded: LoadedConfig
    user: User
    # why the file cannot be loaded now ("" when it can); `loaded` is then the last config
    # that did, good for showing but not for writing back
    config_error: str = ""

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

    def require_loadable_config(self) -> None:
        """Raise ConfigError while the file does not load: a change written now would be
        made to a file someone is halfway through editing, or to a stale view of it."""
        if self.config_error:
            why = ("" if self.user.limited_to_sites  # the reason may name other sites
                   else f": {self.config_error}")
            raise ConfigError(f"the config file cannot be loaded, so it is not changed; fix "
                              f"it first{why}")

    def camera_scope(self) -> frozenset[str] | None:
        """Ids of the configured cameras of the user's sites; None when the user sees all.

        The config says where a camera is now; rows that carry no site of their own
        (worker runs) are shown to a site-limited user only for these cameras.
        """
        if not self.user.limited_to_sites:
            return None
        return frozenset(c.id for c in self.loaded.app.cameras if self.user.sees_site(c.site))


# The last config that loaded, per file, in this dashboard process. Plain dict reads and
# writes are atomic, so the sessions' script threads share it without a lock.
_last_good: dict[Path, LoadedConfig] = {}


def read_config(path: Path | None = None) -> tuple[LoadedConfig | None, str]:
    """The config on disk, else the last one that loaded from that file in this process
    (None if none ever did), with why the file does not load ("" when it does)."""
    key = resolve_config_path(path)
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        return _last_good.get(key), mask_credentials(str(exc))
    _last_good[key] = loaded
    return loaded, ""


def load_config_or_stop() -> tuple[LoadedConfig, str]:
    """The config to draw with and why the file does not load ("" when it does).

    Only when no config ever loaded in this process is there nothing to show: the
    problem is shown and the run stops.
    """
    loaded, error = read_config()
    if loaded is None:
        # Nobody has signed in yet (the accounts' sites are in the config that failed):
        # the reason, with its paths and camera sources, only for a loopback dashboard.
        if not _listening_on_loopback():
            error = "run `cashwatch check` on the server to see why"
        st.error(f"The configuration cannot be loaded: {error}")
        st.stop()
        raise AssertionError("unreachable")  # st.stop() raises; this informs type checkers
    return loaded, error


def config_banner(error: str, *, detail: bool = True) -> None:
    """Why the file does not load; without `detail` (a site-limited account) only that
    it does not, as the message can name other sites' cameras."""
    if not detail:
        error = "ask an administrator to fix the file"
    st.error(f"The configuration cannot be loaded: {error}  \n"
             "Showing the last configuration that loaded; changes to cameras are off "
             "until the file is fixed.", icon=":material/error:")


def fresh_context(ctx: PageContext) -> PageContext:
    """The context with the config as it is on disk now (another tab may have changed it)."""
    loaded, error = read_config(ctx.loaded.path)
    return replace(ctx, loaded=loaded or ctx.loaded, config_error=error)


def _listening_on_loopback() -> bool:
    return str(st.get_option("server.address") or "") in LOOPBACK


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


def page_context(*, banner: bool = True) -> PageContext:
    """Call at the top of every page. The router passes banner=False: the page it runs
    draws the banner, once, and only after the login check (the error names the file)."""
    loaded, error = load_config_or_stop()
    ctx = PageContext(loaded=loaded, user=require_login(loaded), config_error=error)
    if error and banner:
        config_banner(error, detail=not ctx.user.limited_to_sites)
    return ctx


def guard_page(permission: str) -> PageContext:
    ctx = page_context()
    if not ctx.user.can(permission):
        st.error(f"Your account ({ctx.user.role}) cannot open this page.")
        st.stop()
    return ctx
